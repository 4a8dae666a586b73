"""This process as a server of sockets (modern engine): what it serves, and its heartbeat.

One object, ``this_process``, owns that state: the consumers of its open
sockets, the groups they are in here (see ``fanout``), its channel on the
layer, its place in the change log (see ``log_tail``), the sockets to forget,
and its event loop. The consumers and the
engine's functions go through its methods.

Its heartbeat renews the lease of the process's open sockets, forgets the
sockets whose consumer ended before its ``disconnect()`` was done (daphne
kills consumers that take too long to close), and forgets sockets of any
process whose lease ran out.
"""

import asyncio
import logging
import time

from channels.db import database_sync_to_async

from .. import app_settings, change_log, sockets
from ..close_codes import CloseCode
from .coalesced import Coalesced
from .fanout import SERVERS, LocalGroups, ServerChannel, server_channel_of
from .log_tail import WAKE, LogTail

logger = logging.getLogger(__name__)

#: Seconds between two reports of late notifications.
LAG_REPORT_INTERVAL = 60


class ServingProcess:
    """The sockets this process serves, their groups here, its channel on the layer, its heartbeat."""

    def __init__(self):
        #: The event loop of this process's server, once a socket has connected to it.
        self.loop = None
        #: Open sockets: channel name to consumer.
        self.open = {}
        #: Which of the open sockets are in which group.
        self.groups = LocalGroups()
        self.channel = ServerChannel(self._notify)
        #: This process's place in the change log, which it delivers from (see ``log_tail``).
        self.tail = LogTail(self.groups, self._check_lag)
        # Sockets whose consumer ended before its disconnect() was done (channel names).
        self._orphans = set()
        self._heartbeat = None
        self._sending = set()  # the loop keeps only a weak reference to a task
        self._lag_reported = None  # when late notifications were last reported (monotonic)
        # Sockets that close together are forgotten together (see ``coalesced``).
        self._forget_closed = Coalesced(database_sync_to_async(sockets.forget_named))

    def serving_loop(self):
        """The server's event loop while it runs, else None."""
        return self.loop if self.loop is not None and self.loop.is_running() else None

    async def serve(self, consumer, layer):
        """Serve ``consumer``'s socket: start the heartbeat and the process's channel if not yet."""
        self.loop = asyncio.get_running_loop()
        self.open[consumer.channel_name] = consumer
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = self.loop.create_task(self._beat(layer))
        await self.channel.start(layer)
        await self.update_channel(layer)
        if change_log.enabled():
            await self.tail.start()

    async def closed(self, channel_name):
        """Forget a socket whose consumer closed; return the groups it was in (by any process's request)."""
        # No renewal now: its row is going, and a renewal that found it gone would close it again.
        self.open.pop(channel_name, None)
        return await self._forget_closed(channel_name) or set()

    async def update_channel(self, layer):
        """Keep this process's channel in ``SERVERS`` while it serves sockets, and only then."""
        await self.channel.serve(layer, self._serves_sockets)

    def ended(self, channel_name, recorded):
        """A consumer ended (maybe killed mid-disconnect): a recorded socket's rows go at the next beat."""
        self.open.pop(channel_name, None)
        if recorded:
            self._orphans.add(channel_name)

    def apply_soon(self, channel_name, moves, text):
        """From another thread: make an open socket change groups (``GroupMoves``), then send it ``text``."""
        self.loop.call_soon_threadsafe(self._apply_here, channel_name, moves, text)

    def _apply_here(self, channel_name, moves, text):
        consumer = self.open.get(channel_name)
        if consumer is not None:  # it may have closed meanwhile
            consumer.change_groups(moves.join, moves.leave, moves.since)
            sending = asyncio.ensure_future(consumer.send(text_data=text))
            self._sending.add(sending)
            sending.add_done_callback(self._sending.discard)

    async def forget_stale(self, layer, forgotten):
        """Take forgotten sockets out of their groups, and dead processes' server channels out of ``SERVERS``.

        A socket of another process is forgotten when its lease ran out: its whole
        process has stopped renewing (if it is only slow, its heartbeat adds its
        channel again).
        """
        dead = set()
        for name, groups in forgotten.items():
            for group in groups:
                self.groups.leave(name, group)
            server = server_channel_of(name)
            if name not in self.open and server is not None and server != self.channel.name:
                dead.add(server)
        for server in dead:
            await layer.group_discard(SERVERS, server)

    def _serves_sockets(self):
        return bool(self.open)

    async def _notify(self, message):
        if message.get("type") == WAKE:
            if message.get("from") != self.channel.name:  # this process woke its own already
                self.tail.wake()
            return
        self._check_lag(message.get("sent"))
        await self.groups.write(message["texts"], once=message.get("once", False))

    def _check_lag(self, sent):
        """Say (at most once a minute) when notifications reach this process late.

        A process that cannot write frames as fast as changes arrive falls
        behind, and a Redis layer drops messages that wait longer than its
        ``expiry`` without a word: this is the only sign of it.
        """
        lag = time.time() - (sent or time.time())
        if lag < app_settings.get("NOTIFICATION_LAG_WARNING"):
            return
        now = time.monotonic()
        if self._lag_reported is not None and now - self._lag_reported < LAG_REPORT_INTERVAL:
            return
        self._lag_reported = now
        logger.warning(
            "Notifications reach this server's sockets %.1f s after they were sent: it writes frames more "
            "slowly than changes arrive, and a Redis channel layer drops the messages that wait longer than "
            "its expiry (60 s by default). Run more server processes. Logged at most once a minute.",
            lag,
        )

    async def _beat(self, layer):
        while True:
            await asyncio.sleep(sockets.lease_interval())
            try:
                await self._beat_once(layer)
            except Exception:
                logger.exception("The socket heartbeat failed this time; it runs again shortly.")

    async def _beat_once(self, layer):
        """Renew this process's leases, forget its orphans and every expired socket, leave their groups."""
        orphans = set(self._orphans)
        self._orphans.clear()
        try:
            gone, forgotten = await database_sync_to_async(_renew_and_sweep)(list(self.open), list(orphans))
        except Exception:
            self._orphans.update(orphans)  # the next beat tries again
            raise
        await self.forget_stale(layer, forgotten)
        for name in gone:
            consumer = self.open.get(name)
            if consumer is not None:
                logger.warning("Socket %s was forgotten while open (its lease ran out); closing it.", name)
                await consumer.close(code=CloseCode.FORGOTTEN)
        await self.channel.serve(layer, self._serves_sockets, refresh=True)


def _renew_and_sweep(open_names, orphan_names):
    gone = sockets.renew(open_names)
    forgotten = sockets.forget_named(orphan_names)
    forgotten.update(sockets.forget_expired())
    return gone, forgotten


#: This process.
this_process = ServingProcess()
