"""The graphql-transport-ws protocol: what a ``GraphqlWsConsumer`` reads and writes, and its close codes.

As the protocol's PROTOCOL.md (in the ``graphql-ws`` project) defines them: a
client offers the subprotocol ``graphql-transport-ws``, sends
``connection_init`` and waits for ``connection_ack``, then sends ``subscribe``
messages, each with an id of its choosing; the server answers each with
``next`` messages and one ``complete``, or one ``error``. Either side may send
``complete`` to end an operation, and ``ping`` at any time. What breaks the
protocol closes the socket with one of the codes below.
"""

import json

from .. import app_settings
from ..close_codes import CloseCode
from . import common

SUBPROTOCOL = "graphql-transport-ws"

CONNECTION_INIT = "connection_init"
CONNECTION_ACK = "connection_ack"
PING = "ping"
PONG = "pong"
SUBSCRIBE = "subscribe"
NEXT = "next"
ERROR = "error"
COMPLETE = "complete"
#: The message types a client may send.
CLIENT_TYPES = (CONNECTION_INIT, PING, PONG, SUBSCRIBE, COMPLETE)

#: The reason sent with each close code that has a fixed one.
REASONS = {
    CloseCode.UNAUTHORIZED: "Unauthorized",
    CloseCode.FORBIDDEN: "Forbidden",
    CloseCode.SUBPROTOCOL: "Subprotocol not acceptable",
    CloseCode.INIT_TIMEOUT: "Connection initialisation timeout",
    CloseCode.TOO_MANY_INITS: "Too many initialisation requests",
    CloseCode.INTERNAL_ERROR: "Internal server error",
}


class BadMessage(Exception):
    """A message that breaks the protocol: close with ``code``; ``str()`` is the reason."""

    def __init__(self, reason, code=CloseCode.BAD_REQUEST):
        super().__init__(reason)
        self.code = code


class Message:
    """One client message, checked: ``type``, ``id`` (subscribe, complete) and ``payload``."""

    def __init__(self, type, id=None, payload=None):
        self.type = type
        self.id = id
        self.payload = payload


def parse(text):
    """Read one client message; raise ``BadMessage`` when it breaks the protocol."""
    if text is None:
        raise BadMessage("Binary messages are not part of graphql-transport-ws: send JSON text.")
    largest = app_settings.get("MAX_FRAME_CHARS")
    if len(text) > largest:
        raise BadMessage(f"The message is {len(text)} characters long; this server reads up to {largest}.")
    try:
        content = json.loads(text, parse_constant=common.refuse_constant)
    except (ValueError, RecursionError):
        raise BadMessage("Invalid message: it is not JSON text.") from None
    if not isinstance(content, dict):
        raise BadMessage("Invalid message: expected a JSON object with a 'type'.")
    kind = content.get("type")
    if kind not in CLIENT_TYPES:
        raise BadMessage(f"Invalid message 'type' property {app_settings.echo(kind)}.")
    payload = content.get("payload")
    if kind == SUBSCRIBE:
        return Message(kind, _id(content), _subscribe_payload(payload))
    if kind == COMPLETE:
        return Message(kind, _id(content))
    if payload is not None and not isinstance(payload, dict):
        raise BadMessage(f"\"{kind}\" message expects the 'payload' property to be an object or missing.")
    return Message(kind, payload=payload)


def _id(content):
    value = content.get("id")
    if not isinstance(value, str) or not value:
        raise BadMessage(f"\"{content['type']}\" message requires a non-empty string 'id' property.")
    longest = app_settings.get("MAX_REQUEST_ID_CHARS")
    if len(value) > longest:
        raise BadMessage(
            f"The operation id is {len(value)} characters long; ids of up to {longest} are read."
        )
    return value


def _subscribe_payload(payload):
    if not isinstance(payload, dict):
        raise BadMessage("\"subscribe\" message expects the 'payload' property to be an object.")
    if not isinstance(payload.get("query"), str):
        raise BadMessage("\"subscribe\" message payload expects the 'query' property to be a string.")
    for key, kind, check in (
        ("variables", "an object", dict),
        ("extensions", "an object", dict),
        ("operationName", "a string", str),
    ):
        value = payload.get(key)
        if value is not None and not isinstance(value, check):
            raise BadMessage(
                f"\"subscribe\" message payload expects the '{key}' property to be {kind} or null."
            )
    return payload


def encode(message):
    """The JSON text of a server message."""
    return json.dumps(message, separators=(",", ":"))


def ack(payload=None):
    """The answer to ``connection_init``."""
    return {"type": CONNECTION_ACK} if payload is None else {"type": CONNECTION_ACK, "payload": payload}


def pong(payload=None):
    """The answer to ``ping`` (with the ping's payload, if any)."""
    return {"type": PONG} if payload is None else {"type": PONG, "payload": payload}


def next_text(id_text, payload_text):
    """A ``next`` message's text from the JSON of its id and of its execution result.

    Built from ready texts: an event's result is encoded once per distinct
    operation, and only its id differs from one subscriber to the next.
    """
    return f'{{"id":{id_text},"type":"next","payload":{payload_text}}}'


def error(id, errors):
    """The ``error`` message for operation ``id``: a list of GraphQL errors (``{"message": ...}``)."""
    return {"id": id, "type": ERROR, "payload": list(errors)}


def complete(id):
    """The server's end of operation ``id``."""
    return {"id": id, "type": COMPLETE}
