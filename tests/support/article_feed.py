"""An article feed over graphql-transport-ws, for the tests of cursors and of delivery from the change log.

Events are read whole, and their cursors must grow: the order of commits.
"""

import json
import re
from concurrent.futures import ThreadPoolExecutor

from support.client import assert_nothing_more, graphql, post, unique
from support.graphql_ws_client import WsSocket

SOCKETS = 4
CURSOR = re.compile(r"^[0-9a-f]+\.[0-9]+$")


def articles(arguments=""):
    return "subscription { articleChanges%s { action cursor data { id title } } }" % arguments


def after(cursor):
    return articles(f"(after: {json.dumps(cursor)})")


def run(server, steps, hold=False):
    """Run saves and deletes back to back on the server; the ids of the articles made."""
    return post(server, "/testing/changes/", {"steps": steps, "hold": hold})["ids"]


def bulk_writes(alice, bob, one, two, three):
    """The steps of ``run`` that write articles ``a`` and ``b`` by ``alice`` and ``c`` by ``bob`` (titled
    ``one``, ``two``, ``three``) with each of the ORM's bulk writes: ``bulk_create``, ``update()`` of the
    three to live, ``bulk_update`` (``a`` retitled "uno", ``b`` given to ``bob``), ``delete()`` of ``a``
    and ``c``."""
    return [
        {
            "bulk_create": "article",
            "as": {
                "a": {"title": one, "author_id": alice},
                "b": {"title": two, "author_id": alice},
                "c": {"title": three, "author_id": bob},
            },
        },
        {"update_where": ["a", "b", "c"], "set": {"status": "live"}},
        {"bulk_update": {"a": {"title": "uno"}, "b": {"author_id": bob}}, "fields": ["title", "author_id"]},
        {"delete_where": ["a", "c"]},
    ]


def new_author(server):
    return post(server, "/testing/user/", {"username": unique("author")})["id"]


def cursor_now(server):
    reply = graphql(server, "{ articlesCursor }")
    assert set(reply) == {"data"}, reply
    return reply["data"]["articlesCursor"]


def position(cursor):
    assert CURSOR.match(cursor), cursor
    return int(cursor.rsplit(".", 1)[1])


def received(sock, id, count):
    """The next ``count`` events of operation ``id``: ``(action, id, title)``, checked whole, in cursor order."""
    return [event[:3] for event in received_with_cursors(sock, id, count)]


def received_with_cursors(sock, id, count):
    """As ``received``, each with its cursor: ``(action, id, title, cursor)``."""
    events, last = [], 0
    for _ in range(count):
        message = next_message(sock)
        event = message["payload"]["data"]["articleChanges"]
        data = event["data"]
        assert data is not None, message
        assert message == {
            "id": id,
            "type": "next",
            "payload": {
                "data": {
                    "articleChanges": {"action": event["action"], "cursor": event["cursor"], "data": data}
                }
            },
        }
        assert set(data) == {"id", "title"}, data
        assert position(event["cursor"]) > last, events
        last = position(event["cursor"])
        events.append((event["action"], data["id"], data["title"], event["cursor"]))
    return events


def resync(sock, id):
    """Read a RESYNC event (checked whole); its cursor."""
    message = next_message(sock)
    cursor = message["payload"]["data"]["articleChanges"]["cursor"]
    assert message == {
        "id": id,
        "type": "next",
        "payload": {"data": {"articleChanges": {"action": "RESYNC", "cursor": cursor, "data": None}}},
    }
    assert CURSOR.match(cursor), cursor
    return cursor


def resumed(server, cursor, count=SOCKETS):
    """``count`` sockets that subscribe after ``cursor`` at the same moment, each served (see ``resume``)."""
    sockets = [WsSocket(server) for _ in range(count)]
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda sock: resume(sock, "1", after(cursor)), sockets))
    return sockets


def resume(sock, id, query):
    """Subscribe, and wait until the subscribe is served: a ping after it is answered once it was.

    What it replays comes before that pong: it is kept in ``sock.pending`` for ``received``.
    """
    sock.subscribe(id, query)
    sock.send({"type": "ping", "payload": {"after": id}})
    sock.pending = []
    while True:
        message = sock.recv()
        if message == {"type": "pong", "payload": {"after": id}}:
            return
        sock.pending.append(message)


def nothing_more(*sockets):
    """Nothing came that the test did not read: not before the pong of a resume, not since."""
    assert [getattr(sock, "pending", []) for sock in sockets] == [[]] * len(sockets)
    assert_nothing_more(*sockets)


def next_message(sock):
    pending = getattr(sock, "pending", None)
    return pending.pop(0) if pending else sock.recv()


def close(sockets):
    for sock in sockets:
        sock.close()
