"""The 2018 protocol (channels-api's stream frames): every frame the server writes on a
``GraphqlAPIDemultiplexer`` socket, and the parsing of every frame it reads.

Both engines build and read these frames only through this module, so a frame looks
the same whichever version of Channels carries it.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder

from .. import app_settings
from .common import OPERATIONS, STATUS_OK, NotJson, ProtocolError, id_problem, is_integer, refuse_constant


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


def notification_frame(stream, action, model_label, data, cause=None):
    """One model change, as a subscriber receives it.

    A subscriber that follows a filter also reads its ``cause``: ``action`` is
    the change as it reads to the filter (see ``filters.relative``).
    """
    payload = {"action": action, "model": model_label, "data": data}
    if cause is not None:
        payload["cause"] = cause
    return {"stream": stream, "payload": payload}


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


def is_refusal(frame):
    """Whether ``frame`` answers a request with an error."""
    return bool(frame.get("payload", {}).get("errors"))


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
    """A subscribe or unsubscribe request read from a socket frame.

    ``operation`` is the frame's ``payload.action`` ("subscribe" or "unsubscribe", channels-api's
    name for it); the model action it follows is in ``data["action"]``.
    """

    def __init__(self, stream, operation, pk, data, request_id):
        self.stream = stream
        self.operation = operation
        self.pk = pk
        self.data = data
        self.request_id = request_id

    def error_frame(self, error):
        """Answer this request with ``error``."""
        return error_frame(error, stream=self.stream, action=self.operation, request_id=self.request_id)


def parse_frame(text, streams):
    """Read one client frame; return a ``SocketRequest`` or raise ``FrameError``.

    ``streams`` is the collection of stream names this socket serves. Error
    sentences quote at most a short prefix of what the client sent.
    """
    if text is None:
        raise FrameError(ProtocolError("Binary frames are not supported: send JSON text."))
    largest = app_settings.get("MAX_FRAME_CHARS")
    if len(text) > largest:
        raise FrameError(
            ProtocolError(
                f"The frame is {len(text)} characters long; this server reads frames of up to {largest}."
            )
        )
    content = _decoded(text)
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
            ProtocolError(f"Unknown stream {app_settings.echo(stream)}: this socket serves {known}.")
        )
    payload = content["payload"]
    if not isinstance(payload, dict):
        raise FrameError(ProtocolError('"payload" must be a JSON object.'), stream=stream)
    request_id = _request_id(payload.get("request_id"), stream)
    action = payload.get("action")
    if action not in OPERATIONS:
        raise FrameError(
            ProtocolError(f"Unknown action {app_settings.echo(action)}: use 'subscribe' or 'unsubscribe'."),
            stream=stream,
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
    unknown = sorted(key for key in data if key not in DATA_KEYS)
    if unknown:
        raise FrameError(
            ProtocolError(
                f"Unknown key {app_settings.echo(unknown[0])} in data: use "
                f"{', '.join(DATA_KEYS[:-1])} or {DATA_KEYS[-1]}."
            ),
            stream=stream,
            action=action,
            request_id=request_id,
        )
    pk = payload.get("pk")
    problem = id_problem(pk)
    if problem:
        raise FrameError(ProtocolError(f"pk {problem}"), stream=stream, action=action, request_id=request_id)
    return SocketRequest(stream, action, pk, data, request_id)


#: The keys a socket request's ``data`` may have (``filter``: see ``filters.Declaration.parse_written``).
DATA_KEYS = ("action", "fields", "filter")


def _decoded(text):
    try:
        return json.loads(text, parse_constant=refuse_constant)
    except RecursionError:
        raise FrameError(ProtocolError("The frame nests JSON deeper than this server reads.")) from None
    except NotJson as exc:
        raise FrameError(ProtocolError(f"The frame is not valid JSON ({exc} is not a JSON value).")) from None
    except json.JSONDecodeError as exc:
        raise FrameError(ProtocolError(f"The frame is not valid JSON (at character {exc.pos}).")) from None
    except ValueError:
        # Python's own limits, such as integers of thousands of digits.
        raise FrameError(ProtocolError("The frame holds a value this server does not read.")) from None


def _request_id(request_id, stream):
    if request_id is None or is_integer(request_id):
        return request_id
    longest = app_settings.get("MAX_REQUEST_ID_CHARS")
    if isinstance(request_id, str) and len(request_id) <= longest:
        return request_id
    raise FrameError(
        ProtocolError(f"request_id must be a string of up to {longest} characters or an integer."),
        stream=stream,
    )


class FrameError(Exception):
    """A client frame that cannot be read; carries the error frame to answer with."""

    def __init__(self, error, *, stream=None, action=None, request_id=None):
        super().__init__(str(error))
        self.frame = error_frame(error, stream=stream, action=action, request_id=request_id)
