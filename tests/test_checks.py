"""System checks, run the way a user runs them: ``manage.py check`` in a process of its own."""

import pytest
import websocket

from support import databases
from support.client import Socket
from support.servers import LEGACY, Server, django_admin, environment

NO_ISSUES = "System check identified no issues (0 silenced).\n"

if LEGACY:
    IN_MEMORY, REDIS = "asgiref.inmemory.ChannelLayer", "asgi_redis.RedisChannelLayer"
else:
    IN_MEMORY, REDIS = "channels.layers.InMemoryChannelLayer", "channels_redis.core.RedisChannelLayer"

W001_REACH = (
    "notifications reach only sockets of the process that saved the object, so a save in any other process "
    "(manage.py shell or another command, a worker, a cron job, a second server) reaches no socket."
    if LEGACY
    else "a change saved in another process (manage.py shell or another command, a worker, a cron job, a "
    "second server) waits up to CHANGE_LOG_POLL_SECONDS for the servers to read it, and subscribe requests, "
    "logouts and revoked tokens served by one server never reach another's sockets."
)
W001 = (
    "?: (graphene_django_subscriptions.W001) CHANNEL_LAYERS['default'] is the in-memory layer "
    f"({IN_MEMORY}): {W001_REACH}\n"
    f"\tHINT: Set CHANNEL_LAYERS['default']['BACKEND'] to {REDIS} so that every process reaches every socket."
)
W002 = (
    "?: (graphene_django_subscriptions.W002) ASGI_APPLICATION is set but 'daphne' is not in "
    "INSTALLED_APPS: manage.py runserver serves plain HTTP and answers the WebSocket URL with 404, "
    "so no socket can connect.\n"
    '\tHINT: Put "daphne" first in INSTALLED_APPS. If another ASGI server (uvicorn, hypercorn, daphne '
    'run directly) serves the project, add "graphene_django_subscriptions.W002" to SILENCED_SYSTEM_CHECKS.'
)
W003 = (
    "?: (graphene_django_subscriptions.W003) The tables of graphene_django_subscriptions are missing "
    "from database 'default' (graphene_django_subscriptions_subscribersocket, "
    "graphene_django_subscriptions_subscriptionrecord, graphene_django_subscriptions_filterroute, "
    "graphene_django_subscriptions_loggedchange, "
    "graphene_django_subscriptions_changeloghistory, graphene_django_subscriptions_changelogepoch, "
    "graphene_django_subscriptions_ormwrite): every "
    "socket connection and subscribe request fails, and no change is logged for clients to resume from, "
    "until you run python manage.py migrate.\n"
    "\tHINT: Run python manage.py migrate once 'graphene_django_subscriptions' is in INSTALLED_APPS, "
    "and again after upgrading the package."
)
# Django 2.2 runs database checks when asked by tag; Django 3.1+ when given a database.
DATABASE_CHECK = ["check", "--tag", "database"] if LEGACY else ["check", "--database", "default"]


@pytest.fixture(scope="module")
def new_database(workdir):
    """Makes empty databases of this run's kind (SQLite or PostgreSQL), dropped afterwards."""
    made = databases.Databases(workdir)
    yield made.new
    made.drop_all()


def test_the_example_project_serves_with_no_system_check_issues(example, workdir):
    assert NO_ISSUES in example.log()
    result = django_admin(environment("example.settings", workdir / "example.sqlite3"), "check")
    assert (result.stdout, result.stderr) == (NO_ISSUES, "")


def test_the_in_memory_layer_is_a_deployment_warning_that_names_the_redis_layer(workdir):
    env = environment("testproject.settings", workdir / "checks-layer.sqlite3")
    assert W001 in django_admin(env, "check", "--deploy").stderr
    # One process on the in-memory layer is a correct development set-up: plain checks stay quiet.
    assert django_admin(env, "check").stdout == NO_ISSUES


def test_a_redis_layer_passes_the_deployment_check(workdir):
    env = environment("testproject.settings", workdir / "checks-layer.sqlite3", layer="redis")
    assert "graphene_django_subscriptions.W001" not in django_admin(env, "check", "--deploy").stderr


def test_a_missing_daphne_app_is_reported_on_the_modern_engine_only(workdir):
    result = django_admin(
        environment("testproject.settings_nodaphne", workdir / "checks-daphne.sqlite3"), "check"
    )
    if LEGACY:
        assert (result.stdout, result.stderr) == (NO_ISSUES, "")
    else:
        assert (
            result.stderr
            == f"System check identified some issues:\n\nWARNINGS:\n{W002}\n\nSystem check identified 1 issue (0 silenced).\n"
        )


def test_runserver_without_the_daphne_app_serves_no_sockets_on_the_modern_engine(workdir, new_database):
    env = environment("testproject.settings_nodaphne", new_database("checks-nodaphne"))
    django_admin(env, "migrate", "--noinput")
    srv = Server(env, workdir / "nodaphne.log", runserver=True)
    try:
        if LEGACY:
            # Channels 1's runserver comes with the channels app: sockets work, nothing to report.
            sock = Socket(srv)
            sock.close()
            assert sock.hello == {"channel_id": sock.channel_id, "connect": "success"}
            assert "graphene_django_subscriptions.W002" not in srv.log()
        else:
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                websocket.create_connection(srv.ws, timeout=10)
            assert refused.value.status_code == 404
            assert W002 in srv.log()
    finally:
        srv.stop()


def test_missing_tables_are_reported_until_migrate_runs(new_database):
    env = environment("testproject.settings", new_database("checks-unmigrated"))
    assert W003 in django_admin(env, *DATABASE_CHECK).stderr
    migrate = django_admin(env, "migrate", "--noinput")
    # migrate runs database checks first; telling it to run itself would only confuse.
    assert "graphene_django_subscriptions.W003" not in migrate.stdout + migrate.stderr
    assert django_admin(env, *DATABASE_CHECK).stdout == NO_ISSUES


def w004(path, stream, model):
    return (
        f"{path}: (graphene_django_subscriptions.W004) Anonymous users may subscribe to stream {stream!r}: "
        f"anyone who can open a socket hears of every change of every {model} it reports, with every field "
        "of its serializer.\n"
        "\tHINT: Set Meta.permission_classes (e.g. [IsAuthenticated]), or define get_queryset(user) to decide "
        'what each user hears of. If the stream is public on purpose, add "graphene_django_subscriptions.W004" '
        "to SILENCED_SYSTEM_CHECKS."
    )


def deploy_check(workdir, settings):
    """What ``check --deploy`` reports for ``settings`` on a Redis layer (no W001)."""
    env = environment(settings, workdir / "checks-layer.sqlite3", layer="redis")
    return django_admin(env, "check", "--deploy").stderr


def test_the_deployment_check_names_each_stream_anonymous_users_may_follow(workdir):
    stderr = deploy_check(workdir, "testproject.settings")
    expected = [
        w004("testproject.streams.CountedSubscription", "counted", "User"),
        w004("testproject.streams.FragileSubscription", "fragile", "Group"),
        w004("example.subscriptions.GroupSubscription", "groups", "Group"),
        w004("testproject.streams.StaffSubscription", "staff", "User"),
        w004("testproject.streams.ArticleSubscription", "articles", "Article"),
        w004("testproject.streams.StaffArticleSubscription", "staff-articles", "Article"),
        w004("testproject.streams.ArticleDetailSubscription", "article-details", "Article"),
        w004("testproject.streams.MarkerSubscription", "markers", "Marker"),
        w004("testproject.streams.FilteredArticleSubscription", "filtered-articles", "Article"),
        w004("testproject.streams.FilterSetArticleSubscription", "filterset-articles", "Article"),
        w004("testproject.streams.FilteredGroupSubscription", "filtered-groups", "Group"),
        w004("testproject.streams.LiveArticleSubscription", "live-articles", "Article"),
        w004("testproject.streams.QueriedArticleSubscription", "queried-articles", "Article"),
        w004("testproject.streams.DatedArticleSubscription", "dated-articles", "Article"),
        w004("testproject.streams.ReviewSubscription", "reviews", "Review"),
        w004("testproject.streams.NoteSubscription", "notes", "Note"),
        w004("testproject.streams.BookmarkSubscription", "bookmarks", "Bookmark"),
    ]
    assert [message in stderr for message in expected] == [True] * 17
    assert stderr.count("(graphene_django_subscriptions.W004)") == 17
    # Not warned: "guarded" and "own-row" refuse anonymous users; "users" and "owned" have a per-recipient rule.
    assert "graphene_django_subscriptions.W005" not in stderr


def w005(consumer):
    return (
        f"?: (graphene_django_subscriptions.W005) {consumer} is routed in "
        "testproject.asgi_noorigin.application without an origin check: a page of any site can open a socket "
        "with a visitor's cookies and hear what that visitor may hear.\n"
        "\tHINT: Wrap the websocket application in graphene_django_subscriptions.BrowserOriginValidator: "
        '"websocket": BrowserOriginValidator(AuthMiddlewareStack(URLRouter([...]))).'
    )


def test_a_socket_route_without_an_origin_check_is_a_deployment_warning_on_the_modern_engine(workdir):
    stderr = deploy_check(workdir, "testproject.settings_noorigin")
    if LEGACY:
        # Channels 1 routes no ASGI application: the demultiplexer checks the origin itself.
        assert "graphene_django_subscriptions.W005" not in stderr
    else:
        assert w005("graphene_django_subscriptions.engines.graphql_transport_ws.GraphqlWsConsumer") in stderr
        assert w005("testproject.consumers.TestDemultiplexer") in stderr
        assert stderr.count("(graphene_django_subscriptions.W005)") == 2


def w006(redis_version):
    return (
        "?: (graphene_django_subscriptions.W006) CHANNEL_LAYERS['default'] reads from Redis with a timeout "
        f"of 5 s or less (redis-py {redis_version}'s default unless a host sets socket_timeout), while "
        "channels_redis waits up to 5 s in Redis for each message: reads of idle sockets fail at random "
        "with \"Timeout reading from ...\". This package's consumers read again; the project's other Channels "
        "consumers die and their clients are disconnected.\n"
        "\tHINT: Give each entry of CHANNEL_LAYERS['default']['CONFIG']['hosts'] as "
        '{"address": "redis://...", "socket_timeout": None} (or a timeout above 5 s).'
    )


def test_a_redis_host_left_to_redis_py_8s_read_timeout_is_reported_on_the_modern_engine(workdir):
    plain = environment("testproject.settings_plainredis", workdir / "checks-layer.sqlite3", layer="redis")
    stderr = django_admin(plain, "check").stderr
    if LEGACY:
        assert stderr == ""
        return
    import redis

    if int(redis.__version__.split(".")[0]) >= 8:
        assert stderr == (
            f"System check identified some issues:\n\nWARNINGS:\n{w006(redis.__version__)}\n\n"
            "System check identified 1 issue (0 silenced).\n"
        )
    else:
        assert stderr == ""
    # The example's Redis settings turn the read timeout off: no warning.
    configured = environment("testproject.settings", workdir / "checks-layer.sqlite3", layer="redis")
    assert django_admin(configured, "check").stderr == ""
