"""Forgetting ``migrate``: the socket is refused and the server's log names the fix."""

import websocket

from support import databases
from support.servers import Server, environment


def first_frame(url):
    """The socket's first frame, or None when it is refused or closed before sending one."""
    try:
        conn = websocket.create_connection(url, timeout=10)
        try:
            return conn.recv() or None
        finally:
            conn.close()
    except (OSError, websocket.WebSocketException):
        return None


def test_a_socket_on_an_unmigrated_database_is_refused_with_the_fix_in_the_log(workdir):
    made = databases.Databases(workdir)
    env = environment("testproject.settings", made.new("unmigrated"))
    server = Server(env, workdir / "unmigrated.log")
    try:
        assert first_frame(server.ws) is None
        assert (
            "A socket was refused: the table graphene_django_subscriptions_subscribersocket does not "
            "exist. Run `python manage.py migrate` to create graphene_django_subscriptions' tables."
        ) in server.log()
    finally:
        server.stop()
        made.drop_all()
