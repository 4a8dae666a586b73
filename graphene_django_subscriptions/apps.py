"""Django app configuration."""

from django.apps import AppConfig
from django.conf import settings
from django.core import checks as django_checks
from django.utils.module_loading import autodiscover_modules, import_string


class SubscriptionsConfig(AppConfig):
    """Loads every Subscription at start-up, in every process; registers the checks and the logout watch.

    A process that saves objects (a worker, a management command) only sends
    notifications for Subscriptions it has imported, so each installed app's
    ``subscriptions`` module and the GraphQL schema are imported here.
    """

    name = "graphene_django_subscriptions"
    verbose_name = "GraphQL subscriptions"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from . import checks, database_writes, engines, revocation, transport

        transport.install(engines.current())
        database_writes.keep_through_schema_changes()

        revocation.connect_signals()
        django_checks.register(checks.check_channel_layer, deploy=True)
        django_checks.register(checks.check_anonymous_followers, deploy=True)
        django_checks.register(checks.check_socket_origins, deploy=True)
        django_checks.register(checks.check_daphne_installed)
        django_checks.register(checks.check_redis_read_timeout)
        django_checks.register(checks.check_tables, django_checks.Tags.database)
        autodiscover_modules("subscriptions")
        schema = getattr(settings, "GRAPHENE", {}).get("SCHEMA")
        if schema:
            import_string(schema)
