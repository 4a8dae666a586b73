"""Beyond one process: two servers and a management command on one Redis channel layer."""

import subprocess
import sys

from client import (
    Socket,
    create_user,
    graphql,
    subscribe,
    subscription_request,
    unique,
    update_user,
    wait_for,
)
from servers import CWD


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
