"""Settings of the original's project: Channels 1 with asgiref's in-memory layer or asgi_redis.

Read from the environment as the test project's are: ``GDS_DATABASE`` (a SQLite
file), ``GDS_CHANNEL_LAYER`` (``inmemory`` or ``redis``), ``GDS_REDIS_URL``,
``GDS_REDIS_PREFIX`` and ``GDS_DEBUG``.
"""

import os

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = os.environ.get("GDS_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "graphene_django",
    "channels",
    "channels_api",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "originalproject.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("GDS_DATABASE", "original.sqlite3"),
    }
}
USE_TZ = True

GRAPHENE = {
    "SCHEMA": "originalproject.schema.schema",
    # The README names it "graphene_django_subscriptions.depromise_subscription",
    # which 0.0.9 no longer has: this is the class it exports instead.
    "MIDDLEWARE": ["graphene_django_subscriptions.SubscriptionMiddleware"],
}

LAYER = os.environ.get("GDS_CHANNEL_LAYER", "inmemory")
# The capacity the example project sets, so that neither target drops messages
# the other keeps: asgiref's default of 10 per channel refuses bursts.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "asgiref.inmemory.ChannelLayer",
        "ROUTING": "originalproject.routing.project_routing",
        "CONFIG": {"capacity": 5000},
    }
}
if LAYER == "redis":
    CHANNEL_LAYERS["default"]["BACKEND"] = "asgi_redis.RedisChannelLayer"
    CHANNEL_LAYERS["default"]["CONFIG"] = {
        "hosts": [os.environ.get("GDS_REDIS_URL", "redis://127.0.0.1:6379/0")],
        "capacity": 5000,
    }
    if os.environ.get("GDS_REDIS_PREFIX"):
        # The benchmark removes every key under its run's prefix afterwards.
        CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ["GDS_REDIS_PREFIX"]
        CHANNEL_LAYERS["default"]["CONFIG"]["stats_prefix"] = os.environ["GDS_REDIS_PREFIX"] + "meta."
elif LAYER != "inmemory":
    raise RuntimeError(f"GDS_CHANNEL_LAYER must be inmemory or redis on Channels 1, not {LAYER!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
}
