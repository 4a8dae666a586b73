"""Live model-change notifications for graphene-django, delivered over Django Channels.

The public names are loaded on first use, so that listing the app in
``INSTALLED_APPS`` imports nothing that needs the app registry.
"""

from importlib import import_module

__version__ = "1.0.0"

# Django < 3.2 does not discover AppConfig classes by itself.
default_app_config = "graphene_django_subscriptions.apps.SubscriptionsConfig"

_PUBLIC = {
    "Subscription": "graphene_django_subscriptions.subscription",
    "GraphqlAPIDemultiplexer": "graphene_django_subscriptions.consumers",
    "GraphqlWsConsumer": "graphene_django_subscriptions.consumers",
    "BrowserOriginValidator": "graphene_django_subscriptions.engines.origins",
    "depromise_subscription": "graphene_django_subscriptions.middleware",
    "SubscriptionMiddleware": "graphene_django_subscriptions.middleware",
    "revoke": "graphene_django_subscriptions.revocation",
    "ReportDatabaseWrites": "graphene_django_subscriptions.database_writes",
}


def _exported():
    # Channels 1 has no GraphqlWsConsumer nor ASGI middleware: a star import there must not fail on them.
    import channels

    legacy = channels.__version__.startswith("1.")
    return sorted(name for name in _PUBLIC if not (legacy and name in _MODERN_ONLY))


_MODERN_ONLY = ("GraphqlWsConsumer", "BrowserOriginValidator")


__all__ = _exported()


def __getattr__(name):
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(import_module(module), name)
