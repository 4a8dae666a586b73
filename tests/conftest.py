"""Fixtures: real servers of the installed engine, on in-memory and Redis channel layers."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT / "tests", ROOT / "example_project"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
os.environ.setdefault("GDS_DATABASE", ":memory:")

import django  # noqa: E402

django.setup()

from servers import LEGACY, Server, django_admin, environment  # noqa: E402

REDIS_URL = os.environ.get("GDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
REDIS_LAYERS = ["redis"] if LEGACY else ["redis", "pubsub"]


def pytest_addoption(parser):
    parser.addoption(
        "--update-screenshot",
        action="store_true",
        help="write the live page's screenshot to docs/live-page.png (the one README.rst shows)",
    )


def pytest_report_header(config):
    import channels

    return f"engine: {'legacy' if LEGACY else 'modern'} (channels {channels.__version__})"


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("gds")


def _migrated_env(workdir, name, **kwargs):
    env = environment("testproject.settings", workdir / f"{name}.sqlite3", **kwargs)
    django_admin(env, "migrate", "--noinput")
    return env


@pytest.fixture(scope="session")
def server(workdir):
    """One server on the in-memory channel layer: the embedded default."""
    srv = Server(_migrated_env(workdir, "inmemory"), workdir / "inmemory.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def example(workdir):
    """The example project, unchanged, served by its engine's ``runserver``."""
    env = environment("example.settings", workdir / "example.sqlite3")
    django_admin(env, "migrate", "--noinput")
    srv = Server(env, workdir / "example.log", runserver=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def redis_url():
    """A clean Redis database; the tests fail (never skip) when Redis does not answer."""
    import redis

    client = redis.StrictRedis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # pragma: no cover - an environment fault, reported as a failure
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({exc}); start redis-server first.")
    client.flushdb()
    return REDIS_URL


@pytest.fixture(scope="session", params=REDIS_LAYERS)
def redis_cluster(request, workdir, redis_url):
    """Two server processes sharing one database and one Redis channel layer."""
    layer = request.param
    env = _migrated_env(workdir, f"cluster-{layer}", layer=layer, redis_url=redis_url)
    first = Server(env, workdir / f"{layer}-a.log")
    second = Server(env, workdir / f"{layer}-b.log")
    yield layer, env, first, second
    first.stop()
    second.stop()
