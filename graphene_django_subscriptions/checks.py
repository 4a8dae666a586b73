"""System checks for the set-ups that deliver nothing without an error.

Registered by the app's ``ready()``:

* ``W001`` (``check --deploy``): the in-memory channel layer reaches sockets of
  one process only.
* ``W002``: on Channels 4, ``runserver`` serves no WebSockets without the
  ``daphne`` app.
* ``W003`` (a database check): the package's tables are missing.
"""

import sys

from django.apps import apps
from django.conf import settings
from django.core.checks import Warning
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router

from . import engines

APP_LABEL = "graphene_django_subscriptions"
#: The alias of the channel layer the engines use (Channels 1 and 4 agree).
LAYER_ALIAS = "default"


def check_channel_layer(app_configs=None, **kwargs):
    """W001: the in-memory channel layer in a deployment.

    A deploy check: one process with an in-memory layer is a correct set-up for
    development (the example project is one), but a deployment has other
    processes (more servers, workers, cron jobs) whose saves would reach nobody.
    """
    try:
        process_local = engines.current().layer_is_process_local()
    except Exception:
        # A layer that cannot be built fails loudly when the server starts; a
        # check that raised here would hide every other check's report.
        return []
    if not process_local:
        return []
    backend = settings.CHANNEL_LAYERS[LAYER_ALIAS]["BACKEND"]
    return [
        Warning(
            f"CHANNEL_LAYERS[{LAYER_ALIAS!r}] is the in-memory layer ({backend}): notifications reach "
            "only sockets of the process that saved the object, so a save in any other process "
            "(manage.py shell or another command, a worker, a cron job, a second server) reaches no socket.",
            hint=(
                f"Set CHANNEL_LAYERS[{LAYER_ALIAS!r}]['BACKEND'] to {engines.current().REDIS_LAYER} "
                "so that every process reaches every socket."
            ),
            id=f"{APP_LABEL}.W001",
        )
    ]


def check_daphne_installed(app_configs=None, **kwargs):
    """W002: Channels 4 with ``ASGI_APPLICATION`` set but no ``daphne`` app.

    Without daphne's ``runserver``, Django's own serves the project over WSGI
    and answers the socket URL with a bare 404.
    """
    if engines.channels_major_version() < 4:
        return []  # Channels 1's own app provides the runserver that serves sockets.
    if not getattr(settings, "ASGI_APPLICATION", None) or apps.is_installed("daphne"):
        return []
    return [
        Warning(
            "ASGI_APPLICATION is set but 'daphne' is not in INSTALLED_APPS: manage.py runserver serves "
            "plain HTTP and answers the WebSocket URL with 404, so no socket can connect.",
            hint=(
                'Put "daphne" first in INSTALLED_APPS. If another ASGI server (uvicorn, hypercorn, '
                f'daphne run directly) serves the project, add "{APP_LABEL}.W002" to SILENCED_SYSTEM_CHECKS.'
            ),
            id=f"{APP_LABEL}.W002",
        )
    ]


def check_tables(app_configs=None, **kwargs):
    """W003: the package's tables are missing (``migrate`` has not run).

    A database check: it runs with ``check --database default`` (Django 3.1+),
    ``check --tag database`` (Django 2.2), and before ``migrate``, where it stays
    quiet because ``migrate`` is about to create them.
    """
    if app_configs is not None and apps.get_app_config(APP_LABEL) not in app_configs:
        return []
    if sys.argv[1:2] == ["migrate"]:
        return []
    if "databases" in kwargs:
        # Django 3.1+: a check may only use the databases the command names (none by default).
        aliases = kwargs["databases"] or []
    else:
        # Django 2.2 runs database checks only when asked, and names no database.
        aliases = [router.db_for_write(apps.get_model(APP_LABEL, "SubscriberSocket"))]
    issues = []
    for alias in aliases:
        models = [
            model
            for model in apps.get_app_config(APP_LABEL).get_models()
            if router.allow_migrate_model(alias, model)
        ]
        if not models:
            continue
        try:
            existing = set(connections[alias].introspection.table_names())
        except (DatabaseError, ImproperlyConfigured):
            # An unreachable database is the command's own error to report, not this check's.
            continue
        missing = [model._meta.db_table for model in models if model._meta.db_table not in existing]
        if missing:
            issues.append(
                Warning(
                    f"The tables of {APP_LABEL} are missing from database {alias!r} ({', '.join(missing)}): "
                    "every socket connection and subscribe request fails until you run "
                    "python manage.py migrate.",
                    hint=(
                        f"Run python manage.py migrate{'' if alias == 'default' else ' --database ' + alias} "
                        f"once {APP_LABEL!r} is in INSTALLED_APPS, and again after upgrading the package."
                    ),
                    id=f"{APP_LABEL}.W003",
                )
            )
    return issues
