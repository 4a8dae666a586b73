"""Settings of the example project: SQLite and the in-memory channel layer, no services needed.

The engine follows the installed Channels: 1.x runs the legacy engine
(channels-api, asgiref's in-memory layer), 4.x the modern one (daphne's
``runserver``, Channels' in-memory layer). ``GDS_CHANNEL_LAYER=redis`` (or
``pubsub`` on Channels 4) switches to Redis at ``GDS_REDIS_URL``.
"""

import os
from pathlib import Path

import channels

BASE_DIR = Path(__file__).resolve().parent.parent
LEGACY = channels.__version__.startswith("1.")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = True
# Also the origins sockets may come from (see asgi.py and the legacy demultiplexer).
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "rest_framework",
    "graphene_django",
    "channels",
    "graphene_django_subscriptions",
    "example",
]
if LEGACY:
    INSTALLED_APPS.insert(INSTALLED_APPS.index("channels") + 1, "channels_api")
else:
    # daphne's runserver serves HTTP and WebSockets from one ASGI process.
    INSTALLED_APPS.insert(0, "daphne")

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "example.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("GDS_DATABASE", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
STATIC_URL = "/static/"
# The page a person logs in on to change users and groups (see mutations.py and demo_admin).
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

GRAPHENE = {
    "SCHEMA": "example.schema.schema",
    "MIDDLEWARE": ["graphene_django_subscriptions.depromise_subscription"],
}

REDIS_URL = os.environ.get("GDS_REDIS_URL", "redis://127.0.0.1:6379/0")
LAYER = os.environ.get("GDS_CHANNEL_LAYER", "inmemory")

if LEGACY:
    # asgiref's in-memory layer holds 10 messages per channel by default: a
    # burst of connecting sockets would get 503 "Connection queue at capacity"
    # and notifications would be dropped. Raise it.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "asgiref.inmemory.ChannelLayer",
            "ROUTING": "example.routing.channel_routing",
            "CONFIG": {"capacity": 5000},
        }
    }
    if LAYER == "redis":
        CHANNEL_LAYERS["default"]["BACKEND"] = "asgi_redis.RedisChannelLayer"
        CHANNEL_LAYERS["default"]["CONFIG"] = {"hosts": [REDIS_URL], "capacity": 5000}
else:
    ASGI_APPLICATION = "example.asgi.application"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 5000},
        }
    }
    if LAYER == "redis":
        # redis-py 8 would give up reading after 5 s, as long as the layer's
        # blocking wait for a message: idle consumers would die (check W006).
        CHANNEL_LAYERS["default"] = {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "capacity": 5000},
        }
    elif LAYER == "pubsub":
        CHANNEL_LAYERS["default"] = {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"graphene_django_subscriptions": {"handlers": ["console"], "level": "INFO"}},
}
