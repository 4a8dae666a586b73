"""Per-subscriber field selection.

A selection is keyed by a bit mask over the serializer's field order, so the
key is short, valid in a group name, and can be turned back into field names
by any process that knows the serializer.
"""

from . import app_settings
from .protocols.common import ProtocolError

ALL_FIELDS = "all"
#: The key of a graphql-transport-ws subscriber: it gets every field, and its own
#: process cuts them down to the operation's selection set (see ``operations``).
SELECTED_BY_OPERATION = "gql"


class FieldCatalog:
    """The field names one serializer outputs, in order."""

    def __init__(self, names, stream):
        self.names = tuple(names)
        self.stream = stream
        self._bits = {name: 1 << index for index, name in enumerate(self.names)}

    def key_for(self, selection):
        """The key of ``selection``: a list of field names, or None for every field."""
        if selection is None:
            return ALL_FIELDS
        if not selection:
            raise ProtocolError(
                f"The field list is empty: name the fields of stream {self.stream!r} you want, "
                "or leave the list out for all of them."
            )
        mask = 0
        for name in selection:
            bit = self._bits.get(name) if isinstance(name, str) else None
            if bit is None:
                raise ProtocolError(
                    f"Unknown field {app_settings.echo(name)} for stream {self.stream!r}: "
                    f"choose from {', '.join(self.names)}."
                )
            if mask & bit:
                raise ProtocolError(f"Field {name!r} is listed twice: name each field once.")
            mask |= bit
        return format(mask, "x")

    def names_for(self, key):
        """The field names ``key`` selects, or None for every field."""
        if key == ALL_FIELDS:
            return None
        mask = int(key, 16)
        return [name for name, bit in self._bits.items() if mask & bit]

    def project(self, data, key):
        """``data`` cut down to the fields ``key`` selects."""
        names = self.names_for(key)
        if names is None:
            return data
        return {name: data[name] for name in names if name in data}
