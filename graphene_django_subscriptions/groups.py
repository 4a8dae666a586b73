"""Channel-layer group names: one group per stream, action, target, field selection and audience."""

import hashlib
import re

PREFIX = "gds"
EVERY_OBJECT = "all"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
#: Channel layers refuse group names of this length or longer.
MAX_LENGTH = 100


def object_key(pk):
    """The text form of a followed object's primary key ('' means every object)."""
    return "" if pk is None else str(pk)


def _target(key, filter_key=""):
    if filter_key:
        return "f-" + filter_key  # hex digits
    if not key:
        return EVERY_OBJECT
    if _PLAIN_KEY.match(key):
        return "id-" + key
    # Keys with characters a group name refuses (or long ones) are hashed.
    return "h-" + _digest(key)


def _digest(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def _selection(fields_key, audience):
    if not audience:
        return fields_key
    # Field keys are "all" or hex digits, so the first "_" ends them.
    return f"{fields_key}_{audience if _PLAIN_KEY.match(audience) else 'a-' + _digest(audience)}"


def group_name(stream, action, key, fields_key, audience="", filter_key=""):
    """The group whose members receive ``action`` changes of ``key`` with ``fields_key``.

    ``audience`` is the recipients' user key on a stream with a per-recipient
    rule (empty otherwise); ``filter_key`` the key of the filter they follow
    (``filters.Filter.key``), whose ``action`` is the change as it reads to
    them. The stream comes last: the other parts never contain a dot, so two
    different streams can never produce the same name.
    Names stay shorter than the 100 characters channel layers accept: when the
    target and the selection would not fit, they are hashed together into one
    part (marked ``x-``, which no target starts with).
    """
    target = _target(key, filter_key)
    selection = _selection(fields_key, audience)
    name = ".".join((PREFIX, action, target, selection, stream))
    if len(name) < MAX_LENGTH:
        return name
    return ".".join((PREFIX, action, "x-" + _digest(f"{target}.{selection}"), stream))
