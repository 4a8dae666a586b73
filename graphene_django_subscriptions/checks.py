"""System checks for the set-ups that deliver nothing without an error.

Registered by the app's ``ready()``:

* ``W001`` (``check --deploy``): the in-memory channel layer reaches sockets of
  one process only.
* ``W002``: on Channels 4, ``runserver`` serves no WebSockets without the
  ``daphne`` app.
* ``W003`` (a database check): the package's tables are missing.
* ``W004`` (``check --deploy``): anonymous users may follow a Subscription.
* ``W005`` (``check --deploy``, Channels 4): the WebSocket route to a
  ``GraphqlAPIDemultiplexer`` or a ``GraphqlWsConsumer`` has no origin check.
* ``W006`` (Channels 4): the Redis layer on redis-py 8 or later with the
  client's default read timeout, which kills idle consumers (the package's
  own read again).
"""

import sys

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.checks import Warning
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router
from django.utils.module_loading import import_string

from . import engines, registry
from .protocols import common

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
    if engines.current().delivers_from_log():
        reach = (
            "a change saved in another process (manage.py shell or another command, a worker, a cron job, a "
            "second server) waits up to CHANGE_LOG_POLL_SECONDS for the servers to read it, and subscribe "
            "requests, logouts and revoked tokens served by one server never reach another's sockets."
        )
    else:
        reach = (
            "notifications reach only sockets of the process that saved the object, so a save in any other "
            "process (manage.py shell or another command, a worker, a cron job, a second server) reaches no "
            "socket."
        )
    return [
        Warning(
            f"CHANNEL_LAYERS[{LAYER_ALIAS!r}] is the in-memory layer ({backend}): {reach}",
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
                    "every socket connection and subscribe request fails, and no change is logged for "
                    "clients to resume from, until you run python manage.py migrate.",
                    hint=(
                        f"Run python manage.py migrate{'' if alias == 'default' else ' --database ' + alias} "
                        f"once {APP_LABEL!r} is in INSTALLED_APPS, and again after upgrading the package."
                    ),
                    id=f"{APP_LABEL}.W003",
                )
            )
    return issues


#: Seconds channels_redis's layer waits in Redis for a message before it asks again.
REDIS_BLOCKING_READ = 5


def check_redis_read_timeout(app_configs=None, **kwargs):
    """W006: ``channels_redis.core.RedisChannelLayer`` with a read timeout no longer than its blocking read.

    redis-py 8 gives up on any read after 5 s unless a host says otherwise;
    the layer's ``receive`` waits 5 s in Redis for a message. An idle socket's
    read then fails at random with "Timeout reading from ...": the package's
    consumers read again, any other Channels consumer dies and its client is
    disconnected.
    """
    if engines.channels_major_version() < 4:
        return []
    layer = settings.CHANNEL_LAYERS.get(LAYER_ALIAS, {})
    if layer.get("BACKEND") != engines.current().REDIS_LAYER:
        return []
    try:
        import redis

        major = int(redis.__version__.split(".")[0])
    except (ImportError, ValueError):
        return []
    default = REDIS_BLOCKING_READ if major >= 8 else None
    hosts = (layer.get("CONFIG") or {}).get("hosts") or ["redis://localhost:6379"]
    timeouts = [host.get("socket_timeout", default) if isinstance(host, dict) else default for host in hosts]
    if all(timeout is None or timeout > REDIS_BLOCKING_READ for timeout in timeouts):
        return []
    return [
        Warning(
            f"CHANNEL_LAYERS[{LAYER_ALIAS!r}] reads from Redis with a timeout of {REDIS_BLOCKING_READ} s "
            f"or less (redis-py {redis.__version__}'s default unless a host sets socket_timeout), while "
            f"channels_redis waits up to {REDIS_BLOCKING_READ} s in Redis for each message: reads of idle "
            'sockets fail at random with "Timeout reading from ...". This package\'s consumers read again; '
            "the project's other Channels consumers die and their clients are disconnected.",
            hint=(
                f"Give each entry of CHANNEL_LAYERS[{LAYER_ALIAS!r}]['CONFIG']['hosts'] as "
                '{"address": "redis://...", "socket_timeout": None} (or a timeout above '
                f"{REDIS_BLOCKING_READ} s)."
            ),
            id=f"{APP_LABEL}.W006",
        )
    ]


def _anonymous_may_follow(subscription):
    anonymous = AnonymousUser()
    for action in common.CHANGE_ACTIONS:
        granted = True
        for permission_class in subscription._meta.permission_classes:
            try:
                granted = granted and bool(permission_class().has_permission(anonymous, action, None))
            except Exception:
                return False  # a rule that cannot be asked here is the project's to judge
        if granted:
            return True
    return False


def check_anonymous_followers(app_configs=None, **kwargs):
    """W004: a Subscription whose changes any anonymous visitor may follow.

    Not an error (a public feed is a fine thing), but a deployment should know:
    anyone who can open a socket hears of every change of every object of
    the stream. A per-recipient rule (``get_queryset(user)``) counts as a
    decision made, and silences the warning for its Subscription.
    """
    issues = []
    for subscription in registry.every():
        meta = subscription._meta
        if meta.per_recipient or not _anonymous_may_follow(subscription):
            continue
        issues.append(
            Warning(
                f"Anonymous users may subscribe to stream {meta.stream!r}: anyone who can open a "
                f"socket hears of every change of every {meta.model.__name__} it reports, with every "
                "field of its serializer.",
                hint=(
                    "Set Meta.permission_classes (e.g. [IsAuthenticated]), or define get_queryset(user) "
                    "to decide what each user hears of. If the stream is public on purpose, add "
                    f'"{APP_LABEL}.W004" to SILENCED_SYSTEM_CHECKS.'
                ),
                obj=f"{subscription.__module__}.{subscription.__qualname__}",
                id=f"{APP_LABEL}.W004",
            )
        )
    return issues


def _consumers(application, guarded=False, depth=0):
    """``(consumer class, behind an origin check)`` for each consumer routed under ``application``."""
    if depth > 20 or application is None:
        return
    consumer = getattr(application, "consumer_class", None)
    if consumer is not None:
        yield consumer, guarded
        return
    from channels.security.websocket import OriginValidator

    if isinstance(application, OriginValidator):
        yield from _consumers(application.application, True, depth + 1)
        return
    mapping = getattr(application, "application_mapping", None)
    if isinstance(mapping, dict):
        yield from _consumers(mapping.get("websocket"), guarded, depth + 1)
        return
    routes = getattr(application, "routes", None)
    if isinstance(routes, (list, tuple)):
        for route in routes:
            yield from _consumers(getattr(route, "callback", None), guarded, depth + 1)
        return
    for attribute in ("inner", "application", "app"):
        inner = getattr(application, attribute, None)
        if inner is not None:
            yield from _consumers(inner, guarded, depth + 1)
            return


def check_socket_origins(app_configs=None, **kwargs):
    """W005 (Channels 4): a consumer of the package (either protocol) routed without an origin check.

    Without one, a page of any site can open a socket with a visitor's
    cookies and hear what that visitor may hear. Channels 1 has no router to
    inspect; there the demultiplexer checks the origin itself.
    """
    if engines.channels_major_version() < 4 or not getattr(settings, "ASGI_APPLICATION", None):
        return []
    try:
        application = import_string(settings.ASGI_APPLICATION)
        ours = engines.current().RecordedSocket  # the base of both consumers
        unguarded = sorted(
            {
                f"{consumer.__module__}.{consumer.__qualname__}"
                for consumer, guarded in _consumers(application)
                if isinstance(consumer, type) and issubclass(consumer, ours) and not guarded
            }
        )
    except Exception:
        return []  # an application that cannot be loaded fails loudly when the server starts
    return [
        Warning(
            f"{name} is routed in {settings.ASGI_APPLICATION} without an origin check: a page of any "
            "site can open a socket with a visitor's cookies and hear what that visitor may hear.",
            hint=(
                "Wrap the websocket application in graphene_django_subscriptions.BrowserOriginValidator: "
                '"websocket": BrowserOriginValidator(AuthMiddlewareStack(URLRouter([...]))).'
            ),
            id=f"{APP_LABEL}.W005",
        )
        for name in unguarded
    ]
