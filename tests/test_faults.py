"""Faults: what is sent is what was saved; a hung channel layer holds no save up; sockets that vanish are forgotten."""

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.client import (
    Socket,
    assert_nothing_more,
    create_user,
    graphql,
    post,
    subscribe,
    subscription_request,
    unique,
    update_user,
    wait_for,
)
from support.graphql_ws_client import WsSocket
from support.leftovers import memberships, recorded, redis_memberships
from support.reliability import churn, mass_abort, soak
from support.servers import LEGACY, RedisServer, Server, django_admin

LEASE = 3


def first_names(frames):
    return [(frame["payload"]["action"], frame["payload"]["data"]["first_name"]) for frame in frames]


def test_a_notification_carries_the_object_as_saved_not_as_changed_after_the_save(server, socket):
    subscribe(server, socket, action="CREATE", data=["FIRST_NAME"])
    created = post(server, "/testing/edit-after-save/", {"username": unique()})["id"]
    assert first_names([socket.recv()]) == [("create", "committed")]
    subscribe(server, socket, action="UPDATE", id=created, data=["FIRST_NAME"])
    update_user(server, created, firstName="plain update")
    post(server, "/testing/edit-after-save/", {"pk": created})
    assert first_names([socket.recv() for _ in range(2)]) == [
        ("update", "plain update"),
        ("update", "committed"),
    ]
    assert_nothing_more(socket)


def test_a_crowd_that_aborts_at_once_leaves_no_row_and_no_membership(server):
    since = len(server.log())  # the shared server logs other tests' deliberate failures
    figures = mass_abort(server, 200)
    assert (figures["rows left"], figures["places left"]) == (0, 0), figures
    assert "Traceback" not in server.log()[since:]


@pytest.fixture(scope="module")
def churned(limited_server):
    return limited_server("churn", layer="redis", SOCKET_LEASE_SECONDS=LEASE)


@pytest.mark.stack
def test_connect_subscribe_leave_cycles_on_redis_leave_no_row_and_no_group_place(churned, redis_url):
    figures = churn(churned, 200, redis_url)
    assert (figures["cycles"], figures["rows left"], figures["places left"]) == (200, 0, 0), figures
    assert "Traceback" not in churned.log()


@pytest.fixture(scope="module")
def soaked(workdir, project, redis_url):
    # The default lease: a busy machine can stall a server past churn's short one, and its
    # sockets would then be closed with 4410 (as documented) in the middle of the soak.
    srv = Server(project("soak", layer="redis"), workdir / "soak.log")
    yield srv
    srv.stop()


@pytest.mark.stack
def test_a_short_soak_on_redis_delivers_every_change_once_and_in_commit_order(soaked):
    figures = soak(soaked, sockets=50, rate=10, seconds=5)
    assert (figures["lost"], figures["duplicated"], figures["out of order"]) == (0, 0, 0), figures
    assert figures["notifications"] >= 50 * 40


@pytest.fixture(scope="module")
def hung_redis(workdir):
    redis = RedisServer(workdir / "hung-redis.log")
    yield redis
    redis.stop()


def hung_layer_env(project, redis):
    env = project("hung-layer", layer="redis")
    env["GDS_REDIS_URL"] = redis.url
    # An exiting process waits longer than a send may take, so that it sees the outage and says so.
    env["GDS_LIMITS"] = json.dumps({"LAYER_SEND_TIMEOUT": 1.0, "OUTBOX_EXIT_WAIT": 2.0})
    return env


def save_in_a_shell(env, pk, last_name):
    """Save in ``manage.py shell`` (a process of its own); return how long the process took and what it logged."""
    code = (
        "from django.contrib.auth.models import User; "
        f"u = User.objects.get(pk={pk}); u.last_name = {last_name!r}; u.save()"
    )
    started = time.monotonic()
    done = django_admin(env, "shell", "-c", code)
    return time.monotonic() - started, done.stderr


def startup_time(env):
    started = time.monotonic()
    django_admin(env, "shell", "-c", "pass")
    return time.monotonic() - started


OUTAGE = (
    "Notifications are not getting through to the channel layer (no answer within 1.0 s). The changes are "
    + (
        "saved; subscribers miss them until the layer answers again. Logged once per outage."
        if LEGACY
        else "saved, and servers read them from the change log meanwhile, within 1.0 s. Logged once per outage."
    )
)


@pytest.mark.stack
def test_a_hung_channel_layer_costs_a_save_a_bounded_time_and_changes_flow_again_when_it_answers(
    workdir, project, hung_redis
):
    env = hung_layer_env(project, hung_redis)
    server = Server(env, workdir / "hung-layer.log")
    sock = Socket(server)
    try:
        pk = create_user(server, unique("hung"))
        subscribe(server, sock, id=pk, data=["LAST_NAME"])
        baseline = startup_time(env)
        hung_redis.hang()
        try:
            if LEGACY:
                # Channels 1 carries HTTP through the layer too: save where no layer is needed to ask.
                took, logged = save_in_a_shell(env, pk, "while hung")
                # At most the outbox's exit wait (2 s) more than an idle shell, not a hang.
                assert took < baseline + 3.5, (took, baseline)
                assert logged.count("Notifications are not getting through") == 1, logged
            else:
                started = time.monotonic()
                for n in range(3):
                    update_user(server, pk, lastName=f"while hung {n}")
                assert time.monotonic() - started < 2.0
                # Heard all the same, in order: the server reads them from the change log.
                heard = [sock.recv()["payload"]["data"] for _ in range(3)]
                assert heard == [{"last_name": f"while hung {n}"} for n in range(3)]
                wait_for(lambda: OUTAGE in server.log(), timeout=10)
                assert server.log().count("Notifications are not getting through") == 1
        finally:
            hung_redis.resume()
        # The saves stand.
        user = graphql(server, "{ users { id lastName } }")["data"]["users"]
        assert {"id": str(pk), "lastName": "while hung" if LEGACY else "while hung 2"} in user
        # Once the layer answers, new changes reach the socket that was open all along.
        expected = {"stream": "users", "payload": {"action": "update", "model": "auth.user", "data": None}}

        def heard_after_the_outage():
            name = unique("after")
            if LEGACY:
                save_in_a_shell(env, pk, name)
            else:
                update_user(server, pk, lastName=name)
            frames = [f for f in sock.drain(0.5) if f["payload"]["data"]["last_name"] == name]
            return frames == [dict(expected, payload=dict(expected["payload"], data={"last_name": name}))]

        wait_for(heard_after_the_outage, timeout=30)
        if not LEGACY:
            wait_for(lambda: "The channel layer takes notifications again" in server.log(), timeout=10)
    finally:
        sock.close()
        server.stop()


if not LEGACY:

    @pytest.mark.stack
    def test_a_consumer_killed_while_it_closes_is_forgotten_within_the_lease(workdir, project):
        env = project("killed-consumers")
        env["GDS_LIMITS"] = json.dumps({"SOCKET_LEASE_SECONDS": LEASE})
        # Its consumers take 30 s to close; daphne kills them after 1 s, mid-disconnect.
        server = Server(
            env, workdir / "killed-consumers.log", daphne_args=["--application-close-timeout", "1"]
        )
        try:
            pk = create_user(server, unique("killed"))
            crowd = [Socket(server, path="/subscriptions-slow/") for _ in range(10)]
            for sock in crowd:
                subscribe(server, sock, id=pk, data=["ID"])
            assert recorded(env, crowd) == [10, 10]
            for sock in crowd:
                sock.close()
            wait_for(
                lambda: server.log().count("took too long to shut down and was killed") == 10, timeout=20
            )
            # Forgotten by the heartbeat: rows, records and group places.
            wait_for(
                lambda: recorded(env, crowd) == [0, 0] and memberships(server, crowd) == {}, timeout=LEASE * 3
            )
            reply = graphql(server, subscription_request("userSubscription", crowd[0].channel_id, id=pk))
            assert reply["data"]["userSubscription"]["error"] == (
                "That socket is no longer connected: reconnect and use the channel_id of the new connection."
            )
        finally:
            server.stop()

    @pytest.mark.stack
    @pytest.mark.parametrize("layer", ["redis", "pubsub"])
    def test_sockets_of_a_killed_server_are_forgotten_by_another_within_the_lease(
        workdir, project, redis_url, layer
    ):
        env = project(f"killed-server-{layer}", layer=layer)
        env["GDS_LIMITS"] = json.dumps({"SOCKET_LEASE_SECONDS": LEASE})
        doomed = Server(env, workdir / f"killed-server-{layer}-a.log")
        survivor = Server(env, workdir / f"killed-server-{layer}-b.log")
        try:
            pk = create_user(survivor, unique("orphaned"))
            lost = [Socket(doomed) for _ in range(5)]
            kept = [Socket(survivor) for _ in range(5)]
            for sock in lost + kept:
                subscribe(survivor, sock, id=pk, data=["ID"])
            doomed.kill()
            wait_for(lambda: recorded(env, lost) == [0, 0], timeout=LEASE * 4)
            if layer == "redis":
                # The dead server's channel left the group of servers; the survivor's stays.
                prefix = env["GDS_REDIS_PREFIX"]
                wait_for(lambda: redis_memberships(redis_url, prefix) == 1, timeout=LEASE * 2)
            # Well past the lease, the survivor's sockets are still recorded, renewed, and served.
            time.sleep(LEASE * 1.5)
            assert recorded(env, kept) == [5, 5]
            update_user(survivor, pk, firstName="still here")
            for sock in kept:
                assert sock.recv() == {
                    "stream": "users",
                    "payload": {"action": "update", "model": "auth.user", "data": {"id": pk}},
                }
            reply = graphql(survivor, subscription_request("userSubscription", lost[0].channel_id, id=pk))
            assert reply["data"]["userSubscription"]["ok"] is False
        finally:
            survivor.stop()
            doomed.stop()


LAGGING = "Notifications reach this server's sockets"

if not LEGACY:

    @pytest.mark.stack
    def test_a_server_that_falls_behind_its_notifications_says_so_once(workdir, project):
        env = project("lagging", layer="redis")
        env["GDS_LIMITS"] = json.dumps({"NOTIFICATION_LAG_WARNING": 1.0})
        server = Server(env, workdir / "lagging.log")
        sock = Socket(server)
        try:
            pk = create_user(server, unique("lagging"))
            subscribe(server, sock, id=pk, data=["LAST_NAME"])
            update_user(server, pk, lastName="on time")
            assert [frame["payload"]["data"] for frame in sock.drain()] == [{"last_name": "on time"}]
            assert LAGGING not in server.log()
            # The server stalls while another process saves: its notifications wait in Redis.
            server.process.send_signal(signal.SIGSTOP)
            try:
                for name in ("late 1", "late 2"):
                    save_in_a_shell(env, pk, name)
                time.sleep(1.5)  # both wait longer than the warning's threshold, however fast the shells were
            finally:
                server.process.send_signal(signal.SIGCONT)
            assert [frame["payload"]["data"] for frame in sock.drain()] == [
                {"last_name": "late 1"},
                {"last_name": "late 2"},
            ]
            assert server.log().count(LAGGING) == 1
        finally:
            sock.close()
            server.stop()

    @pytest.fixture
    def restarted_redis(workdir):
        redis = RedisServer(workdir / "restarted-redis.log")
        yield redis
        redis.stop()

    # Modern engine only: on Channels 1 a Redis failure ends Channels' own worker threads (runserver's, or
    # runworker, which its process manager restarts), and Redis held the sockets' groups (docs/delivery.rst).
    @pytest.mark.stack
    def test_a_redis_restarted_empty_closes_no_socket_and_changes_flow_again_by_themselves(
        workdir, project, restarted_redis
    ):
        env = project("redis-restart", layer="redis")
        env["GDS_REDIS_URL"] = restarted_redis.url
        server = Server(env, workdir / "redis-restart.log")
        socks_2018 = [Socket(server) for _ in range(3)]
        standard_socks = [WsSocket(server) for _ in range(3)]
        try:
            pk = create_user(server, unique("restart"))
            with ThreadPoolExecutor(len(socks_2018)) as pool:
                list(pool.map(lambda sock: subscribe(server, sock, id=pk, data=["LAST_NAME"]), socks_2018))
            for sock in standard_socks:
                sock.follow("u", 'subscription { userChanges(id: "%s") { action data { lastName } } }' % pk)
            restarted_redis.restart()

            def every_socket_heard_a_change():
                name = unique("after")
                try:
                    update_user(server, pk, lastName=name)
                except Exception:
                    return False  # the server's own requests may fail while Redis is away
                frames = [sock.drain(0.5) for sock in socks_2018 + standard_socks]
                return frames == [
                    [
                        {
                            "stream": "users",
                            "payload": {
                                "action": "update",
                                "model": "auth.user",
                                "data": {"last_name": name},
                            },
                        }
                    ]
                ] * len(socks_2018) + [
                    [
                        {
                            "id": "u",
                            "type": "next",
                            "payload": {
                                "data": {"userChanges": {"action": "UPDATE", "data": {"lastName": name}}}
                            },
                        }
                    ]
                ] * len(standard_socks)

            wait_for(every_socket_heard_a_change, timeout=30)
            # The sockets that were open all along heard it: none was closed. One line says the outage, one its end.
            assert server.log().count("Cannot read the channel layer") == 1, server.log()
            wait_for(lambda: "The channel layer answers this server again after" in server.log())
        finally:
            for sock in socks_2018 + standard_socks:
                sock.close()
            server.stop()

    @pytest.mark.stack
    def test_on_redis_configured_as_channels_redis_shows_it_idle_sockets_outlive_redis_py_timeouts(
        workdir, project
    ):
        # No socket_timeout: redis-py 8 gives up a read after 5 s, as long as channels_redis's blocking
        # wait for a message, so idle consumers' reads time out at random (check W006 says so too).
        env = project("plain-redis", layer="redis")
        env["DJANGO_SETTINGS_MODULE"] = "testproject.settings_plainredis"
        server = Server(env, workdir / "plain-redis.log")
        socks_2018 = [Socket(server) for _ in range(40)]
        standard_socks = [WsSocket(server) for _ in range(40)]
        try:
            pk = create_user(server, unique("idle"))
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda sock: subscribe(server, sock, id=pk, data=["LAST_NAME"]), socks_2018))
            for sock in standard_socks:
                sock.follow("u", 'subscription { userChanges(id: "%s") { data { lastName } } }' % pk)
            time.sleep(16)  # idle past the read timeout three times
            update_user(server, pk, lastName="after a while")
            assert [sock.recv() for sock in socks_2018] == [
                {
                    "stream": "users",
                    "payload": {
                        "action": "update",
                        "model": "auth.user",
                        "data": {"last_name": "after a while"},
                    },
                }
            ] * len(socks_2018)
            assert [sock.recv() for sock in standard_socks] == [
                {
                    "id": "u",
                    "type": "next",
                    "payload": {"data": {"userChanges": {"data": {"lastName": "after a while"}}}},
                }
            ] * len(standard_socks)
            assert_nothing_more(*socks_2018, *standard_socks)
        finally:
            for sock in socks_2018 + standard_socks:
                sock.close()
            server.stop()
