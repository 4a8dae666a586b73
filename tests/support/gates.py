"""Gates that hold the test project's ``held`` query and ``gated`` subscription until a test opens them.

The server and the tests share a folder: the server marks a gate as reached
(``<key>.started``) and waits for ``<key>.open``, which only the test writes.
So "while it runs" is a fact in a test, not a guess about timing.
"""

import os
import tempfile
import uuid

#: The folder both sides use (tests/testproject/schema.py names the same one).
FOLDER = os.path.join(tempfile.gettempdir(), "gds-gates")


class Gate:
    """One gate, and the query that waits at it; ``<key>-finally`` is where a ``gated`` subscription ends."""

    def __init__(self):
        os.makedirs(FOLDER, exist_ok=True)
        self.key = uuid.uuid4().hex
        self._path = os.path.join(FOLDER, self.key)
        self.query = '{ held(key: "%s") }' % self.key
        self.subscription = 'subscription { gated(key: "%s") }' % self.key

    def started(self, where=""):
        """Whether the server has reached the gate (``where="-finally"``: the subscription's end)."""
        return os.path.exists(self._path + where + ".started")

    def open(self, where=""):
        open(self._path + where + ".open", "w").close()

    def opened(self):
        return os.path.exists(self._path + ".open")

    def ended(self):
        """Whether a ``gated`` subscription has run its end to the last line."""
        return os.path.exists(self._path + ".ended")

    def result(self, id):
        return {"id": id, "type": "next", "payload": {"data": {"held": self.key}}}
