"""The example project's settings, extended with the test-only app."""

import os

from example.settings import *  # noqa: F403
from example.settings import CHANNEL_LAYERS, GRAPHENE, INSTALLED_APPS, LEGACY

INSTALLED_APPS = INSTALLED_APPS + ["testproject"]
ROOT_URLCONF = "testproject.urls"
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
        "graphene_django_subscriptions": {"handlers": ["console"], "level": "INFO"},
    },
}
SESSION_ENGINE = os.environ.get("GDS_SESSION_ENGINE", "django.contrib.sessions.backends.db")
