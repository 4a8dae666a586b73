"""The benchmarks' project: the test project's settings, serving only the example's schema and streams.

Each test-only stream of the test project (tests/testproject/streams.py) would
add its own lookup to every save of a user, which neither a real project nor
the benchmarks' peers pay. The test project's environment variables (database,
layer, Redis prefix, ``GDS_DEBUG``) still apply.
"""

from testproject.settings import *  # noqa: F403
from testproject.settings import CHANNEL_LAYERS, DATABASES, GRAPHENE, LEGACY

GRAPHENE = dict(GRAPHENE, SCHEMA="example.schema.schema")
ROOT_URLCONF = "example.urls"
if LEGACY:
    CHANNEL_LAYERS["default"]["ROUTING"] = "example.routing.channel_routing"
else:
    ASGI_APPLICATION = "testproject.asgi_bench.application"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Thousands of sockets subscribing 16 at a time keep SQLite's one write lock
    # busy: a request can wait longer than sqlite3's default 5 s for it.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
