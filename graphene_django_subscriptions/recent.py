"""A bounded map of recently used values, shared by a process's threads.

The least recently used go first, past a count of entries or a total size, so
a cache that clients fill (documents they send, changes they resume after)
holds no more than its bounds, whatever they send.
"""

import threading
from collections import OrderedDict


class Recent:
    """At most ``most`` values, and at most ``most_size`` in all as ``size(key, value)`` measures them."""

    def __init__(self, most, most_size, size):
        self.most = most
        self.most_size = most_size
        self._size = size
        self._entries = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key):
        """The value kept for ``key``, or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value):
        """Keep ``value`` for ``key`` (a key kept already keeps its value)."""
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = value
            self._total += self._size(key, value)
            while len(self._entries) > self.most or self._total > self.most_size:
                old, dropped = self._entries.popitem(last=False)
                self._total -= self._size(old, dropped)
