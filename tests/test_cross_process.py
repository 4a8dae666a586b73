"""Beyond one process: two servers and a management command on one Redis channel layer."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.client import (
    Socket,
    create_user,
    graphql,
    subscribe,
    subscription_request,
    unique,
    update_user,
    wait_for,
)
from support.leftovers import redis_memberships
from support.servers import CWD, LEGACY, Server

#: Sockets on each of two servers.
SPREAD = 25


def test_a_socket_on_one_server_is_subscribed_and_notified_through_another(redis_cluster):
    layer, env, first, second = redis_cluster
    sock = Socket(first)
    try:
        pk = create_user(second, unique())
        reply = graphql(
            second,
            subscription_request("userSubscription", sock.channel_id, id=pk, data=["ID", "FIRST_NAME"]),
        )
        assert reply["data"]["userSubscription"]["ok"] is True, reply
        assert sock.recv() == {
            "action": "update",
            "operation": "subscribe",
            "ok": True,
            "stream": "users",
            "error": None,
        }
        update_user(second, pk, firstName=layer)
        assert sock.recv() == {
            "stream": "users",
            "payload": {"action": "update", "model": "auth.user", "data": {"id": pk, "first_name": layer}},
        }
    finally:
        sock.close()


def test_a_save_in_a_management_command_reaches_subscribers(redis_cluster):
    layer, env, first, second = redis_cluster
    sock = Socket(second)
    try:
        pk = create_user(first, unique())
        subscribe(first, sock, id=pk, data=["LAST_NAME"])
        code = (
            "from django.contrib.auth.models import User; "
            f"u = User.objects.get(pk={pk}); u.last_name = 'from a command'; u.save()"
        )
        subprocess.run(
            [sys.executable, "-m", "django", "shell", "-c", code],
            env=env,
            cwd=str(CWD),
            check=True,
            timeout=120,
        )
        assert sock.recv() == {
            "stream": "users",
            "payload": {"action": "update", "model": "auth.user", "data": {"last_name": "from a command"}},
        }
    finally:
        sock.close()


def test_disconnect_on_one_server_ends_memberships_made_through_another(redis_cluster):
    layer, env, first, second = redis_cluster
    leaving, staying = Socket(first), Socket(first)
    try:
        pk = create_user(second, unique())
        for sock in (leaving, staying):
            subscribe(second, sock, id=pk, data=["ID"])
        leaving.close()
        request = subscription_request("userSubscription", leaving.channel_id, id=pk)
        # The close is served asynchronously; once it is, the socket is unknown everywhere.
        wait_for(lambda: graphql(second, request)["data"]["userSubscription"]["ok"] is False)
        update_user(second, pk, firstName="still served")
        assert staying.recv()["payload"]["data"] == {"id": pk}
    finally:
        staying.close()


if not LEGACY:

    @pytest.mark.stack
    def test_the_layer_holds_one_place_per_server_process_however_many_sockets(workdir, project, redis_url):
        """Local fan-out (modern engine): a change crosses Redis once per process, which writes to its sockets."""
        env = project("one-place-per-process", layer="redis")
        prefix = env["GDS_REDIS_PREFIX"]
        servers = [Server(env, workdir / f"one-place-{index}.log") for index in range(2)]
        sockets = {server: [Socket(server) for _ in range(SPREAD)] for server in servers}
        try:
            pk = create_user(servers[0], unique("spread"))
            first, second = servers

            def subscribe_through_the_other(sock):
                subscribe(second if sock.server is first else first, sock, id=pk, data=["ID"])

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(subscribe_through_the_other, sockets[first] + sockets[second]))
            assert redis_memberships(redis_url, prefix) == 2
            expected = {
                "stream": "users",
                "payload": {"action": "update", "model": "auth.user", "data": {"id": pk}},
            }
            update_user(second, pk, firstName="once each")
            assert drained(sockets[first] + sockets[second]) == [[expected]] * SPREAD * 2
            for sock in sockets[first]:
                sock.close()
            wait_for(lambda: redis_memberships(redis_url, prefix) == 1)
            update_user(first, pk, firstName="still served")
            assert drained(sockets[second]) == [[expected]] * SPREAD
            for sock in sockets[second]:
                sock.close()
            wait_for(lambda: redis_memberships(redis_url, prefix) == 0)
        finally:
            for server in servers:
                for sock in sockets[server]:
                    sock.close()
                server.stop()


def drained(sockets):
    """What each of ``sockets`` received until it stayed silent, read on all of them at once."""
    with ThreadPoolExecutor(len(sockets)) as pool:
        return list(pool.map(lambda sock: sock.drain(), sockets))
