"""Saves in a process that serves no sockets.

On the modern engine, servers read every change from the change log, whichever process saved it.
On the legacy one, the in-memory layer reaches no other process: it says so once.
"""

import subprocess
import sys

import pytest

from support.client import Socket, assert_nothing_more, create_user, subscribe, unique, update_user
from support.servers import CWD, LEGACY, Server

REDIS = "asgi_redis.RedisChannelLayer" if LEGACY else "channels_redis.core.RedisChannelLayer"
NOBODY = "reached nobody in this process"


def unheard(pk):
    """The warning a shell's save of user ``pk`` logs on the in-memory layer."""
    return (
        f"A notification (stream 'users', update of auth.user pk={pk}) reached nobody in this process: "
        "no socket has connected to this process, and the in-memory channel layer only delivers to "
        "sockets of the process that sends. Set CHANNEL_LAYERS to a Redis channel layer "
        f"({REDIS}) so that saves in other processes (manage.py shell, workers, cron jobs) reach "
        "subscribers. Logged once per process."
    )


def save_twice_in_a_shell(env, pk):
    """Save user ``pk`` twice in ``manage.py shell``; return the finished process."""
    code = (
        "from django.contrib.auth.models import User\n"
        f"user = User.objects.get(pk={pk})\n"
        "for name in ('first', 'second'):\n"
        "    user.last_name = name\n"
        "    user.save()\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "django", "shell", "-c", code],
        env=env,
        cwd=str(CWD),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


if LEGACY:

    def test_a_shell_save_on_the_in_memory_layer_of_channels_1_warns_once_that_nobody_heard(server):
        sock = Socket(server)
        try:
            pk = create_user(server, unique())
            subscribe(server, sock, id=pk, data=["LAST_NAME"])
            shell = save_twice_in_a_shell(server.env, pk)
            assert shell.stderr.count(NOBODY) == 1, shell.stderr
            assert unheard(pk) in shell.stderr.splitlines()
            assert sock.drain() == []
            # The server, where the socket connected, delivers and warns of nothing.
            update_user(server, pk, lastName="third")
            assert sock.recv()["payload"]["data"] == {"last_name": "third"}
            assert NOBODY not in server.log()
        finally:
            sock.close()

else:

    def test_a_shell_save_on_the_in_memory_layer_reaches_the_socket_through_the_change_log(server):
        """Modern engine: the server reads the shell's changes from the change log, within a second."""
        sock = Socket(server)
        try:
            pk = create_user(server, unique())
            subscribe(server, sock, id=pk, data=["LAST_NAME"])
            shell = save_twice_in_a_shell(server.env, pk)
            assert NOBODY not in shell.stderr
            expected = {
                "stream": "users",
                "payload": {"action": "update", "model": "auth.user", "data": None},
            }
            assert [sock.recv(), sock.recv()] == [
                dict(expected, payload=dict(expected["payload"], data={"last_name": name}))
                for name in ("first", "second")
            ]
            assert_nothing_more(sock)
        finally:
            sock.close()


@pytest.fixture(scope="module")
def redis_server(workdir, project):
    srv = Server(project("unheard-redis", layer="redis"), workdir / "unheard-redis.log")
    yield srv
    srv.stop()


def test_a_shell_save_on_a_redis_layer_reaches_the_socket_without_a_warning(redis_server):
    sock = Socket(redis_server)
    try:
        pk = create_user(redis_server, unique())
        subscribe(redis_server, sock, id=pk, data=["LAST_NAME"])
        # Redis named by host name: the shell's last notifications go as it exits, name lookup included.
        env = dict(
            redis_server.env,
            GDS_REDIS_URL=redis_server.env["GDS_REDIS_URL"].replace("127.0.0.1", "localhost"),
        )
        shell = save_twice_in_a_shell(env, pk)
        assert NOBODY not in shell.stderr
        assert [frame["payload"]["data"] for frame in sock.drain()] == [
            {"last_name": "first"},
            {"last_name": "second"},
        ]
    finally:
        sock.close()
