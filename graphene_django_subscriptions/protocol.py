"""The wire protocol: every frame the server writes and the parsing of every frame it reads.

Both engines build and read frames only through this module, so a frame looks
the same whichever version of Channels carries it.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder

CREATE = "create"
UPDATE = "update"
DELETE = "delete"
ALL_ACTIONS = "all_actions"
#: The actions a model change can carry, in the order they are expanded.
CHANGE_ACTIONS = (CREATE, UPDATE, DELETE)
ACTIONS = CHANGE_ACTIONS + (ALL_ACTIONS,)

SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
OPERATIONS = (SUBSCRIBE, UNSUBSCRIBE)

#: ``response_status`` values of socket replies, as channels-api used them.
STATUS_OK = 200
STATUS_BAD_REQUEST = 400
STATUS_FORBIDDEN = 403
STATUS_NOT_FOUND = 404

#: The WebSocket close code of a socket whose user's access ended: the session
#: it was opened with logged out, or the user was deactivated or deleted.
CLOSE_ACCESS_ENDED = 4401


class ProtocolError(Exception):
    """A request that cannot be served; ``str()`` is the sentence the client reads."""

    status = STATUS_BAD_REQUEST

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status


def server_error():
    """The error for a request that failed on the server's side (the cause is logged)."""
    return ProtocolError(
        "The server could not complete this request; nothing was changed. Try again.", status=500
    )


def encode(frame):
    """Serialize a frame to the JSON text sent on the socket."""
    return json.dumps(frame, cls=DjangoJSONEncoder)


def connect_frame(channel_id):
    """The first frame of every connection: the id the client echoes as ``channelId``."""
    return {"channel_id": channel_id, "connect": "success"}


def confirmation_frame(stream, operation, action):
    """Sent on the socket once a subscribe or unsubscribe made over HTTP took effect."""
    return {
        "action": action,
        "operation": operation,
        "ok": True,
        "stream": stream,
        "error": None,
    }


def notification_frame(stream, action, model_label, data):
    """One model change, as a subscriber receives it."""
    return {
        "stream": stream,
        "payload": {"action": action, "model": model_label, "data": data},
    }


def reply_frame(stream, action, *, data=None, errors=(), status=STATUS_OK, request_id=None):
    """The answer to a request made over the socket, in the stream envelope."""
    return {
        "stream": stream,
        "payload": {
            "action": action,
            "data": data,
            "errors": list(errors),
            "response_status": status,
            "request_id": request_id,
        },
    }


def error_frame(error, *, stream=None, action=None, request_id=None):
    """A reply that carries one ``ProtocolError``."""
    return reply_frame(
        stream,
        action,
        errors=[str(error)],
        status=error.status,
        request_id=request_id,
    )


class SocketRequest:
    """A subscribe or unsubscribe request read from a socket frame."""

    def __init__(self, stream, action, pk, data, request_id):
        self.stream = stream
        self.action = action
        self.pk = pk
        self.data = data
        self.request_id = request_id

    def error_frame(self, error):
        """Answer this request with ``error``."""
        return error_frame(error, stream=self.stream, action=self.action, request_id=self.request_id)


def parse_frame(text, streams):
    """Read one client frame; return a ``SocketRequest`` or raise ``FrameError``.

    ``streams`` is the collection of stream names this socket serves.
    """
    if text is None:
        raise FrameError(ProtocolError("Binary frames are not supported: send JSON text."))
    try:
        content = json.loads(text)
    except ValueError as exc:
        raise FrameError(ProtocolError(f"The frame is not valid JSON ({exc}).")) from None
    if not isinstance(content, dict) or "stream" not in content or "payload" not in content:
        raise FrameError(
            ProtocolError(
                'A frame must be a JSON object with "stream" and "payload" keys, '
                'e.g. {"stream": "users", "payload": {"action": "subscribe", ...}}.'
            )
        )
    stream = content["stream"]
    if not isinstance(stream, str) or stream not in streams:
        known = ", ".join(sorted(streams)) or "none"
        raise FrameError(
            ProtocolError(f"Unknown stream {stream!r}: this socket serves {known}."),
            stream=stream if isinstance(stream, str) else None,
        )
    payload = content["payload"]
    if not isinstance(payload, dict):
        raise FrameError(ProtocolError('"payload" must be a JSON object.'), stream=stream)
    action = payload.get("action")
    request_id = payload.get("request_id")
    if action not in OPERATIONS:
        raise FrameError(
            ProtocolError(f"Unknown action {action!r}: use 'subscribe' or 'unsubscribe'."),
            stream=stream,
            action=action if isinstance(action, str) else None,
            request_id=request_id,
        )
    data = payload.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrameError(
            ProtocolError('"data" must be a JSON object such as {"action": "update"}.'),
            stream=stream,
            action=action,
            request_id=request_id,
        )
    return SocketRequest(stream, action, payload.get("pk"), data, request_id)


class FrameError(Exception):
    """A client frame that cannot be read; carries the error frame to answer with."""

    def __init__(self, error, *, stream=None, action=None, request_id=None):
        super().__init__(str(error))
        self.frame = error_frame(error, stream=stream, action=action, request_id=request_id)
