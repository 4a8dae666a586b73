"""What a socket did lately, for limits that are rates: events in a second, seconds of work in a minute."""

import logging
import time
from collections import deque

from . import app_settings
from .close_codes import CloseCode

logger = logging.getLogger(__name__)


class Window:
    """A one-second window of at most ``app_settings.get(limit)`` events of one kind (pings, refusals...)."""

    def __init__(self, limit):
        self._limit = limit
        self._started = 0.0
        self._count = 0

    def allows(self):
        """Count one more event; whether the window has room for it."""
        now = time.monotonic()
        if now - self._started >= 1:
            self._started, self._count = now, 0
        self._count += 1
        return self._count <= app_settings.get(self._limit)


class Budget:
    """What one socket spent in the last ``window`` seconds (seconds of work, changes replayed), against
    the setting ``limit``."""

    def __init__(self, limit, window=60.0):
        self._limit = limit
        self._window = window
        self._spent = deque()  # (monotonic time, amount)
        self._total = 0.0

    def spend(self, amount):
        """Count ``amount`` spent now."""
        if amount > 0:
            self._spent.append((time.monotonic(), amount))
            self._total += amount

    def spent(self):
        """What was spent in the window."""
        horizon = time.monotonic() - self._window
        while self._spent and self._spent[0][0] < horizon:
            self._total -= self._spent.popleft()[1]
        return max(self._total, 0.0)

    def exhausted(self):
        """Whether the window holds the limit's worth or more."""
        return self.spent() >= app_settings.get(self._limit)

    def left(self):
        """What may still be spent in the window."""
        return max(app_settings.get(self._limit) - self.spent(), 0)


def report_refusal_flood(channel_name):
    """Log that socket ``channel_name`` is closed: it sent on past its refusals' limit."""
    logger.warning(
        "Socket %s kept sending after more than %s refusals in a second; it is closed (%s).",
        channel_name,
        app_settings.get("MAX_REFUSALS_PER_SOCKET_PER_SECOND"),
        CloseCode.REFUSED_TOO_OFTEN,
    )
