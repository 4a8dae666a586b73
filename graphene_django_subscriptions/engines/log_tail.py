"""Delivery from the change log (modern engine): each server process reads what was committed, in order.

A process that serves sockets follows the change log from the position it
started at: when told (a ``gds.wake`` message after a commit anywhere), and at
the latest every ``CHANGE_LOG_POLL_SECONDS``, it reads the changes committed
since, in commit order, and writes each to its sockets in the groups it was
judged for. So every socket hears every change in the one commit order, and
a change still arrives when the process that saved it died right after its
commit, when the channel layer was down, or when it was saved by a process
the layer does not reach (``manage.py shell`` on the in-memory layer, or a
program that is not Django at all: see ``commit_watch``).
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.db import connections

from .. import app_settings, change_log, notifications
from . import commit_watch

logger = logging.getLogger(__name__)

#: How many logged changes one read takes.
BATCH = 200
#: The type of the layer message that tells server processes to read the log now.
WAKE = "gds.wake"


class LogTail:
    """This process's place in the change log, and the task that follows it."""

    def __init__(self, groups, on_late):
        self._groups = groups
        self._on_late = on_late  # called with the commit time of each change written
        #: The position of the last change handed to the sockets here.
        self.through = None
        self._wake = None
        self._task = None
        self._loop = None
        self._failed = False  # whether reading the log failed (said once)
        self._watching = False  # whether ``commit_watch`` was started
        # Its own thread: reading the log never waits behind the sockets' database work.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="gds change log")

    async def start(self):
        """Follow the log from where it ends now (once per process; again if the task ended)."""
        if self._task is not None and not self._task.done():
            return
        self._loop = asyncio.get_running_loop()
        if self.through is None:
            try:
                through = await self._read(change_log.last_position)
            except Exception as exc:  # no table yet (migrate has not run): the next socket tries again
                if not self._failed:
                    self._failed = True
                    logger.error("Cannot read the change log (%s); sockets hear no change until it can.", exc)
                return
            if self._task is not None and not self._task.done():
                return  # another socket started it meanwhile
            self.through = through
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._follow())
        if not self._watching:
            self._watching = True
            try:  # changes the database logs itself wake it too (raw SQL, other programs)
                await self._read(commit_watch.start, self.wake_soon)
            except Exception:
                logger.exception("Cannot watch the database's commits; its own writes arrive by polling.")

    def wake(self):
        """Read the log now (on the loop)."""
        if self._wake is not None:
            self._wake.set()

    def wake_soon(self):
        """Read the log now (from another thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.wake)

    async def _follow(self):
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), app_settings.get("CHANGE_LOG_POLL_SECONDS"))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._catch_up()
            except Exception:
                logger.exception("Could not read the change log; this server tries again shortly.")
                await asyncio.sleep(app_settings.get("CHANGE_LOG_POLL_SECONDS"))

    async def _catch_up(self):
        while True:
            batch, more = await self._read(notifications.from_log, self.through, BATCH)
            for entry, texts, once in batch:
                if texts:
                    # A RESYNC goes to every group of its stream: once to each member.
                    await self._groups.write(texts, position=entry.position, once=once)
                    self._on_late(entry.logged_at.timestamp())
                self.through = entry.position
            if not more:
                return

    async def _read(self, function, *args):
        return await sync_to_async(_fresh(function), thread_sensitive=False, executor=self._thread)(*args)


def _fresh(function):
    def run(*args):
        try:
            return function(*args)
        except Exception:
            # A connection the database dropped is not used again. (Closing it before each
            # read, as Django does between requests, would reconnect for every change.)
            connections.close_all()
            raise

    return run
