"""A raw graphql-transport-ws client for the tests: every message as a whole dict, nothing hidden."""

import requests
import websocket

from support.client import TIMEOUT, Socket, assert_nothing_more, create_group, unique

SUBPROTOCOL = "graphql-transport-ws"
GROUPS = "subscription { groupChanges%s { stream action model data { id name } } }"
#: The validation error of ``groupChanges { data { nope } }``, which several tests send.
NOPE = "Cannot query field 'nope' on type 'GroupSubscriptionData'. Did you mean 'name'?"


class WsSocket(Socket):
    """A client socket on a ``GraphqlWsConsumer`` route; acknowledged unless ``init`` is False."""

    def __init__(self, server, path="/graphql/", init=True, payload=None, cookie=None, origin=None,
                 subprotocols=(SUBPROTOCOL,), header=None):  # fmt: skip
        self.server = server
        self.conn = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}{path}",
            timeout=TIMEOUT,
            cookie=cookie,
            origin=origin,
            subprotocols=list(subprotocols) or None,
            header=header,
        )
        if init:
            self.send(
                {"type": "connection_init"}
                if payload is None
                else {"type": "connection_init", "payload": payload}
            )
            assert self.recv() == {"type": "connection_ack"}

    @property
    def subprotocol(self):
        return self.conn.getsubprotocol()

    def subscribe(self, id, query, variables=None, operation_name=None):
        payload = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        if operation_name is not None:
            payload["operationName"] = operation_name
        self.send({"id": id, "type": "subscribe", "payload": payload})

    def follow(self, id, query, variables=None):
        """Subscribe to a ChangesField and wait until the server has recorded it.

        The protocol has no "subscribed" message: a ping sent after the subscribe is
        answered once the subscribe was served (a socket's messages are served in order).
        """
        self.subscribe(id, query, variables)
        self.send({"type": "ping", "payload": {"after": id}})
        reply = self.recv()
        assert reply == {"type": "pong", "payload": {"after": id}}, reply

    def execute(self, id, query):
        """Run a query or mutation; its data (the operation must succeed and complete)."""
        self.subscribe(id, query)
        result = self.recv()
        assert self.recv() == {"id": id, "type": "complete"}
        assert "errors" not in result["payload"], result
        return result["payload"]["data"]

    def complete(self, id):
        self.send({"id": id, "type": "complete"})


def event(id, field, stream, action, model, data, **extra):
    """The ``next`` message of one change, as a ChangesField selection of all four parts receives it."""
    return {
        "id": id,
        "type": "next",
        "payload": {
            "data": {field: {"stream": stream, "action": action, "model": model, "data": data, **extra}}
        },
    }


def served(server):
    """A new socket on ``server`` hears of a change: the server serves everyone else as before."""
    sock = WsSocket(server)
    try:
        sock.follow("check", GROUPS % "(action: CREATE)")
        name = unique("g")
        pk = create_group(server, name)
        assert sock.recv() == event(
            "check", "groupChanges", "groups", "CREATE", "auth.group", {"id": pk, "name": name}
        )
        assert_nothing_more(sock)
    finally:
        sock.close()


def operations_on(server):
    """The member keys of graphql-transport-ws operations in the server's groups ("<channel>/<number>")."""
    table = requests.get(f"{server.http}/testing/groups/", timeout=TIMEOUT).json()
    return {member for members in table.values() for member in members if "/" in member}
