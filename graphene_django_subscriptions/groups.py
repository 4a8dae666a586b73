"""Channel-layer group names: one group per stream, action, target and field selection."""

import hashlib
import re

PREFIX = "gds"
EVERY_OBJECT = "all"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def object_key(pk):
    """The text form of a followed object's primary key ('' means every object)."""
    return "" if pk is None else str(pk)


def _target(key):
    if not key:
        return EVERY_OBJECT
    if _PLAIN_KEY.match(key):
        return "id-" + key
    # Keys with characters a group name refuses (or long ones) are hashed.
    return "h-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def group_name(stream, action, key, fields_key):
    """The group whose members receive ``action`` changes of ``key`` with ``fields_key``.

    The stream comes last: the other parts never contain a dot, so two
    different streams can never produce the same name.
    """
    return ".".join((PREFIX, action, _target(key), fields_key, stream))
