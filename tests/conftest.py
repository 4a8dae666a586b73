"""Fixtures: real servers of the installed engine, on in-memory and Redis channel layers.

Where a new test goes (the first that fits):

* a message shape of the 2018 protocol: ``test_protocol``; of graphql-transport-ws: ``test_graphql_ws``;
* bad input from a client, and the error it reads: ``test_errors`` (2018 frames and HTTP
  arguments), ``test_graphql_ws`` (graphql-transport-ws); generated input: ``test_fuzz``,
  ``test_graphql_ws_fuzz``;
* a setting's bound (a rate, a size, a count): ``test_limits``; what one hostile socket can
  make the server hold or spend: ``test_bounded_sockets``;
* an attack on access (another user's socket, a forged id, a page of another site): ``test_security``;
  who may follow what: ``test_scope_and_permissions``; what is sent and to whom, judged at
  commit: ``test_judged_at_commit``;
* filtered subscriptions, objects entering and leaving a filter or a scope: ``test_filters`` (2018 protocol,
  both engines), ``test_graphql_ws_filters``; their ``Meta`` errors: ``test_options``;
* many clients at once: ``test_concurrency``; one change to many sockets: ``test_fanout``;
  several processes: ``test_cross_process``, ``test_other_processes``;
* a failing part (Redis, a killed server or consumer): ``test_faults``, ``test_stale_sockets``;
* a sentence of the documentation (``docs/``) pinned as behaviour: ``test_documented_edges`` (graphql-transport-ws:
  ``test_graphql_ws_edges``); its snippets: ``test_graphql_ws_snippets``; a peer's scenario:
  ``test_graphql_ws_peer_scenarios``;
* the browser and other clients: ``test_live_page`` (``test_graphql_ws_live_page``: its graphql-transport-ws
  mode), ``test_graphql_ws_graphiql``, ``test_graphql_ws_clients``;
* how a message parses, in process: ``test_parsers``; another pure function: a module of its own,
  as ``test_coalesced``; PostgreSQL's own machinery: ``test_postgres_notices`` (the PostgreSQL envs).

Tests of the server stack that do not depend on Django's version are marked ``stack``
(see ``pytest_collection_modifyitems``). Helpers are the ``support`` package's; a
server with settings of its own comes from the ``limited_server`` fixture.
"""

import json
import os

import pytest

# The test project and the example come from the checkout (pyproject.toml's ``pythonpath``);
# the package under test is the installed wheel (test_installed_package checks it).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
os.environ.setdefault("GDS_DATABASE", ":memory:")

import django  # noqa: E402

django.setup()

from support import databases  # noqa: E402
from support.client import Socket  # noqa: E402
from support.servers import (  # noqa: E402
    LEGACY,
    SMALL,
    RestartableExample,
    Server,
    environment,
    example_server,
    project_environment,
)

REDIS_URL = os.environ.get("GDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
#: The standard protocol (graphql-transport-ws) is served by the modern engine only.
collect_ignore_glob = ["test_graphql_ws*.py"] if LEGACY else []
#: PostgreSQL's own machinery, in process: the PostgreSQL envs.
collect_ignore = [] if databases.KIND == "postgres" else ["test_postgres_notices.py"]
REDIS_LAYERS = ["redis"] if LEGACY else ["redis", "pubsub"]


def pytest_addoption(parser):
    parser.addoption(
        "--update-screenshot",
        action="store_true",
        help="write the live page's screenshot to docs/live-page.png (the one docs/tutorial.rst shows)",
    )


def pytest_collection_modifyitems(config, items):
    # The stack's tests run in full on one env per engine and database; an env that only
    # changes Django's version leaves them out (deselected: not counted as passed or skipped).
    if not SMALL:
        return
    stack = [item for item in items if item.get_closest_marker("stack")]
    if stack:
        config.hook.pytest_deselected(items=stack)
        items[:] = [item for item in items if not item.get_closest_marker("stack")]


def pytest_report_header(config):
    import channels

    return (
        f"engine: {'legacy' if LEGACY else 'modern'} (channels {channels.__version__}); "
        f"database: {databases.KIND}; run: {databases.RUN}; size: {'small' if SMALL else 'full'}"
    )


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("gds")


@pytest.fixture(scope="session")
def project(workdir, redis_url):
    """Makes the environment of a test-project server: its own database, migrated, and Redis prefix."""
    made = databases.Databases(workdir)

    def make(name, layer="inmemory"):
        return project_environment(made, name, layer, redis_url)

    yield make
    made.drop_all()
    databases.forget_redis_keys(redis_url)


@pytest.fixture(scope="module")
def limited_server(workdir, project):
    """Starts a test-project server with settings of its own: ``limited_server(name, layer=..., **limits)``.

    ``limits`` are ``GRAPHENE_DJANGO_SUBSCRIPTIONS`` settings (``MAX_FRAME_CHARS=100``); the server has
    its own database and its log in ``<name>.log``, and stops when the module's tests are done.
    """
    started = []

    def start(name, layer="inmemory", prepare=None, **limits):
        env = project(name, layer)
        env["GDS_LIMITS"] = json.dumps(limits)
        if prepare is not None:  # the database, before the server starts: prepare(env)
            prepare(env)
        started.append(Server(env, workdir / f"{name}.log"))
        return started[-1]

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def server(workdir, project):
    """One server on the in-memory channel layer: the embedded default."""
    srv = Server(project("inmemory"), workdir / "inmemory.log")
    yield srv
    srv.stop()


@pytest.fixture
def socket(server):
    """A client socket on ``server``, closed after the test."""
    sock = Socket(server)
    yield sock
    sock.close()


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, headless, for the live page and GraphiQL."""
    from support.browser import Chromium

    browser = Chromium()
    yield browser
    browser.quit()


@pytest.fixture
def tabs(chromium):
    """Open tabs on the page; every tab but the first is closed afterwards."""
    yield chromium
    chromium.close_tabs()


@pytest.fixture
def restartable(workdir):
    """Makes ``RestartableExample`` servers; stops them after the test."""
    made = []

    def make(name):
        made.append(RestartableExample(workdir, name))
        return made[-1]

    yield make
    for example in made:
        example.server.stop()


@pytest.fixture(scope="session")
def example(workdir):
    """The example project, unchanged, served by its engine's ``runserver``, with its ``admin``."""
    env = environment("example.settings", workdir / "example.sqlite3")
    srv = example_server(env, workdir / "example.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def redis_url():
    """The Redis the tests use; they fail (never skip) when it does not answer.

    Nothing is flushed: each server's channel layer has a prefix of this run
    alone, and this run's keys are deleted at the end.
    """
    import redis

    client = redis.StrictRedis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # pragma: no cover - an environment fault, reported as a failure
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({exc}); start redis-server first.")
    return REDIS_URL


@pytest.fixture(scope="session", params=REDIS_LAYERS)
def redis_cluster(request, workdir, project):
    """Two server processes sharing one database and one Redis channel layer."""
    layer = request.param
    env = project(f"cluster-{layer}", layer=layer)
    first = Server(env, workdir / f"{layer}-a.log")
    second = Server(env, workdir / f"{layer}-b.log")
    yield layer, env, first, second
    first.stop()
    second.stop()
