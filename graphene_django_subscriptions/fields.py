"""Per-subscriber field selection.

A selection is keyed by a bit mask over the serializer's field order, so the
key is short, valid in a group name, and can be turned back into field names
by any process that knows the serializer.
"""

from .protocol import ProtocolError

ALL_FIELDS = "all"


class FieldCatalog:
    """The field names one serializer outputs, in order."""

    def __init__(self, names, stream):
        self.names = tuple(names)
        self.stream = stream
        self._bits = {name: 1 << index for index, name in enumerate(self.names)}

    def key_for(self, selection):
        """The key of ``selection`` (an iterable of names; None or empty for all fields)."""
        if not selection:
            return ALL_FIELDS
        mask = 0
        for name in selection:
            bit = self._bits.get(name) if isinstance(name, str) else None
            if bit is None:
                raise ProtocolError(
                    f"Unknown field {name!r} for stream {self.stream!r}: choose from {', '.join(self.names)}."
                )
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
