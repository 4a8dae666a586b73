"""What both protocols share: the actions on a model, the subscribe and unsubscribe operations, the
error a refused request raises, what an id may be, and JSON without ``NaN``.
"""

from .. import app_settings

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
STATUS_TOO_MANY = 429


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


def enum_value(value):
    """The value of a graphene enum argument (an action, a field name).

    graphene 3 passes enum members to resolvers, graphene 2 their values.
    """
    return getattr(value, "value", value)


class NotJson(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity`` in a message: Python reads them, JSON has none."""


def refuse_constant(constant):
    """``json.loads``'s ``parse_constant`` for both protocols: JSON has no such value."""
    raise NotJson(constant)


def is_integer(value):
    # JSON true and false arrive as bool, which is an int in Python.
    return isinstance(value, int) and not isinstance(value, bool)


def id_problem(pk):
    """What is wrong with ``pk`` as an object id (a sentence to follow the word "pk" or "id"), or None."""
    if pk is None or is_integer(pk) and abs(pk) < 2**63:
        return None
    if not isinstance(pk, (str, int)) or isinstance(pk, bool):
        return f"must be a string or an integer (got {app_settings.echo(pk)})."
    longest = app_settings.get("MAX_ID_CHARS")
    if isinstance(pk, int):
        return "is too large to be an id."
    if len(pk) > longest:
        return f"is {len(pk)} characters long; ids of up to {longest} characters are read."
    if not _is_text(pk):
        return "holds an unpaired surrogate (a broken \\u escape): send valid text."
    return None


def _is_text(value):
    """Whether ``value`` can be written as UTF-8 (JSON lets a client send lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
