"""``GraphqlWsCommunicator``: graphql-transport-ws in a project's own tests, like Channels' communicators.

It drives your ASGI application in-process (no server, no port), speaks the
protocol for you and hands back what the server sent::

    from graphene_django_subscriptions.testing import GraphqlWsCommunicator
    from myproject.asgi import application

    async def test_a_new_group_is_notified():
        client = GraphqlWsCommunicator(application, "/graphql/")
        await client.connect()
        await client.subscribe("subscription { groupChanges(action: CREATE) { data { name } } }")
        await database_sync_to_async(Group.objects.create)(name="staff")
        assert await client.receive_event() == {"data": {"groupChanges": {"data": {"name": "staff"}}}}
        await client.disconnect()

Notifications leave when a transaction commits: with pytest-django, mark such
tests ``django_db(transaction=True)`` (Django's ``TransactionTestCase``); a test
wrapped in a transaction that rolls back hears nothing. Modern engine only.
"""

import itertools
import json

from channels.testing import WebsocketCommunicator

from .protocols.graphql_transport_ws import SUBPROTOCOL


class ServerClosed(AssertionError):
    """The server closed the socket; ``code`` is the close code (4403 for a refused connection_init, say)."""

    def __init__(self, code):
        super().__init__(f"The server closed the socket with code {code}.")
        self.code = code


class OperationFailed(AssertionError):
    """The server answered an operation with an ``error`` message; ``errors`` are its GraphQL errors."""

    def __init__(self, errors):
        super().__init__("; ".join(error.get("message", str(error)) for error in errors))
        self.errors = errors


class GraphqlWsCommunicator(WebsocketCommunicator):
    """A graphql-transport-ws client of an ASGI application, for tests.

    ``origin`` is sent as the Origin header, as a browser on the site's own page
    sends it (by default none, as from a client outside a browser, which
    ``BrowserOriginValidator`` serves); ``connection_params`` is the
    ``connection_init`` payload (a token, say). Pass ``headers`` for more,
    such as a session cookie.
    """

    def __init__(self, application, path="/graphql/", *, connection_params=None, origin=None,
                 headers=()):  # fmt: skip
        headers = ([] if origin is None else [(b"origin", origin.encode())]) + list(headers)
        super().__init__(application, path, headers=headers, subprotocols=[SUBPROTOCOL])
        self.connection_params = connection_params
        self._ids = (str(number) for number in itertools.count(1))
        self._pending = []  # messages read while waiting for another

    async def connect(self, timeout=1):
        """Open the socket and have it acknowledged; raise ``ServerClosed`` when the server refuses."""
        connected, code = await super().connect(timeout)
        if not connected:
            raise ServerClosed(code)
        init = {"type": "connection_init"}
        if self.connection_params is not None:
            init["payload"] = self.connection_params
        await self.send_json_to(init)
        ack = await self._receive(timeout)
        if ack.get("type") != "connection_ack":
            raise AssertionError(f"Expected connection_ack, got {ack!r}.")
        return ack

    async def subscribe(self, query, variables=None, *, id=None, timeout=1):
        """Start an operation; return its id once the server has taken it up.

        Raises ``OperationFailed`` when the server refuses it (a validation error, a permission).
        """
        id = id or next(self._ids)
        payload = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send_json_to({"id": id, "type": "subscribe", "payload": payload})
        # The server serves a socket's messages in order: the pong means the subscribe was served.
        await self.send_json_to({"type": "ping", "payload": {"after": id}})
        while True:
            message = await self._receive(timeout)
            if message == {"type": "pong", "payload": {"after": id}}:
                return id
            if message.get("id") == id and message.get("type") == "error":
                raise OperationFailed(message["payload"])
            self._pending.append(message)

    async def receive_event(self, id=None, timeout=1):
        """The payload of the next ``next`` message (of operation ``id``, if given): ``{"data": ...}``."""
        message = await self._receive_for(id, timeout)
        if message.get("type") != "next":
            raise AssertionError(f"Expected a next message, got {message!r}.")
        return message["payload"]

    async def execute(self, query, variables=None, timeout=1):
        """Run a query or mutation over the socket; return its result payload."""
        id = await self.subscribe(query, variables, timeout=timeout)
        result = await self.receive_event(id, timeout)
        ending = await self._receive_for(id, timeout)
        if ending != {"id": id, "type": "complete"}:
            raise AssertionError(f"Expected the operation to complete, got {ending!r}.")
        return result

    async def complete(self, id):
        """End operation ``id``: the server sends nothing more for it."""
        await self.send_json_to({"id": id, "type": "complete"})

    async def assert_no_event(self, timeout=0.5):
        """Fail when the server sends anything within ``timeout`` seconds."""
        if self._pending:
            raise AssertionError(f"Unexpected message: {self._pending[0]!r}.")
        await self.receive_nothing(timeout)

    async def _receive_for(self, id, timeout):
        for index, message in enumerate(self._pending):
            if id is None or message.get("id") == id:
                return self._pending.pop(index)
        while True:
            message = await self._receive(timeout)
            if id is None or message.get("id") == id:
                return message
            self._pending.append(message)

    async def _receive(self, timeout):
        message = await self.receive_output(timeout)
        if message["type"] == "websocket.close":
            raise ServerClosed(message.get("code"))
        return json.loads(message["text"])
