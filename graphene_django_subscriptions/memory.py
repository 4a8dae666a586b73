"""Giving freed memory back to the system once sockets close, where the C library allows it (glibc).

CPython returns small freed objects to its own pools, and glibc keeps freed
pages in the process: a burst of large messages (a client's 60 KB frames, say)
would leave the process that much bigger for good. ``malloc_trim`` hands those
pages back; it runs off the event loop, at most once every ``INTERVAL`` seconds.
"""

import ctypes
import ctypes.util
import time

#: The fewest seconds between two trims.
INTERVAL = 5.0

_last = -INTERVAL
_pending = False
_trim = None


def _malloc_trim():
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to do
            _trim = False
    return _trim


def after_close(loop):
    """Have freed memory given back soon (call it on ``loop`` when a socket closed).

    At once if no trim ran in the last ``INTERVAL`` seconds, else when they
    have passed; one trim waits at most, so a thousand closes cost one.
    """
    global _pending
    if _pending:
        return
    _pending = True
    loop.call_later(max(0.0, _last + INTERVAL - time.monotonic()), _start, loop)


def _start(loop):
    global _pending, _last
    _pending, _last = False, time.monotonic()
    loop.run_in_executor(None, give_back)


def give_back():
    """Return the process's freed memory to the system (blocking: call it from a thread)."""
    trim = _malloc_trim()
    if trim:
        trim(0)
