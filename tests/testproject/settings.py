"""The example project's settings, extended with the test-only app."""

import json
import os
from urllib.parse import urlsplit

from example.settings import *  # noqa: F403
from example.settings import CHANNEL_LAYERS, DATABASES, GRAPHENE, INSTALLED_APPS, LAYER, LEGACY, MIDDLEWARE

INSTALLED_APPS = INSTALLED_APPS + ["rest_framework.authtoken", "testproject"]
ROOT_URLCONF = "testproject.urls"
# Benchmarks turn DEBUG off: its query log would weigh on every request they time.
DEBUG = os.environ.get("GDS_DEBUG", "1") == "1"
MIDDLEWARE = MIDDLEWARE + ["testproject.middleware.HeaderTokenMiddleware"]
GRAPHENE = dict(GRAPHENE, SCHEMA="testproject.schema.schema")
if LEGACY:
    CHANNEL_LAYERS["default"]["ROUTING"] = "testproject.routing.channel_routing"
else:
    ASGI_APPLICATION = "testproject.asgi.application"

# Each server writes its log where the tests can read it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        # Not also through daphne's root handler: each line once, so tests can count them.
        "graphene_django_subscriptions": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
SESSION_ENGINE = os.environ.get("GDS_SESSION_ENGINE", "django.contrib.sessions.backends.db")

# GDS_DATABASE is a SQLite file (as in the example) or a postgresql:// URL (tests/databases.py).
_database = urlsplit(os.environ.get("GDS_DATABASE", ""))
# A crowd of writers on a loaded 2-core machine can hold SQLite's write lock past its default 5 s wait.
DATABASES["default"]["OPTIONS"] = {"timeout": 20}
if _database.scheme in ("postgres", "postgresql"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _database.path.lstrip("/"),
            "USER": _database.username or "postgres",
            "PASSWORD": _database.password or "",
            "HOST": _database.hostname or "127.0.0.1",
            "PORT": _database.port or 5432,
        }
    }

# Each test server's Redis keys and groups carry a prefix of its test run alone.
if LAYER != "inmemory" and os.environ.get("GDS_REDIS_PREFIX"):
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = os.environ["GDS_REDIS_PREFIX"]
    if LEGACY:  # asgi_redis keeps its counters under a prefix of their own
        CHANNEL_LAYERS["default"]["CONFIG"]["stats_prefix"] = os.environ["GDS_REDIS_PREFIX"] + "meta."

# The package's limits (see app_settings.py), changed by the tests that reach them.
GRAPHENE_DJANGO_SUBSCRIPTIONS = json.loads(os.environ.get("GDS_LIMITS", "{}"))
