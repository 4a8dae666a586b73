"""Local fan-out (modern engine): a change crosses the channel layer once per server process.

The channel layer does not know which socket follows what; it knows which
processes serve sockets: each one's server channel is in the group
``SERVERS`` while the process has a socket open. A change is one layer message
to that group, carrying the text of each live group. Each process looks its
members of those groups up in ``LocalGroups`` and writes the text straight to
them: no layer message, no consumer dispatch, no copy per socket.
"""

import asyncio
import functools
import logging

from . import layer_reading

logger = logging.getLogger(__name__)

#: The group of every process that has a socket open.
SERVERS = "gds.servers"
#: The end of a server channel's name, after its process's part.
_SERVER_SUFFIX = "gds-server"


def server_channel_of(channel_name):
    """The server channel of the process that serves socket ``channel_name`` (None if the name does not say).

    The in-memory and Redis layers name a process's channels after the process
    (the part before "!"), so any process can name another's server channel and
    take a dead one out of ``SERVERS``. PubSub names do not say; a dead PubSub
    process's subscriptions end with its connection anyway.
    """
    process, bang, _ = channel_name.partition("!")
    return f"{process}!{_SERVER_SUFFIX}" if bang else None


class MadeOnce:
    """What the members of one group make of one change's text, made by the first that needs it."""

    __slots__ = ("event", "payloads")

    def __init__(self):
        #: The change as a graphql-transport-ws event (``changes.event_from_frame``), or None.
        self.event = None
        #: ``{selection: payload text}`` for each operation's selection run on the event.
        self.payloads = {}


class LocalGroups:
    """Which of this process's sockets are in which group."""

    def __init__(self):
        self._members = {}  # group: {member key: member (a consumer, or an operation of one)}
        self._since = {}  # (group, member key): the log position its membership starts after

    def join(self, member, group, key=None, since=None):
        """Put ``member`` in ``group`` under ``key`` (default: its socket's channel name).

        A member has ``deliver(text, made)`` and ``wide``: a socket's consumer, or
        one graphql-transport-ws operation of a socket (several may share a group).
        ``since``: the change log's position when it subscribed; a change at or
        before it was committed before, and is not written to it.
        """
        key = key or member.channel_name
        self._members.setdefault(group, {})[key] = member
        if since is None:
            self._since.pop((group, key), None)
        else:
            self._since[(group, key)] = since

    def leave(self, key, group):
        """Take the member ``key`` (by default a channel name) out of ``group``, if it is in it."""
        members = self._members.get(group)
        self._since.pop((group, key), None)
        if members is not None and members.pop(key, None) is not None and not members:
            del self._members[group]

    def table(self):
        """``{group: sorted channel names}``, a copy."""
        return {group: sorted(members) for group, members in self._members.items()}

    async def write(self, texts, position=None, once=False):
        """Hand each ``(group, text)`` pair's text to the members of the group here.

        ``position`` is the change's in the change log, when it comes from there:
        members that subscribed after it was committed are left out. ``once``: a
        member of several of the groups gets the first one's text only.

        Members of one group share one ``MadeOnce`` for what they make of the
        text (one execution per distinct graphql-transport-ws operation). Members
        whose ``wide`` is true go after the others; ``deliver`` returns whether it
        ran a selection. A member that left the group while the loop served
        others (an unsubscribe, a ``complete``, a closed socket) hears nothing more.
        """
        wide = []
        handed = set() if once else None
        for group, text in texts:
            members = self._members.get(group)
            if members:
                made = MadeOnce()
                for key, member in list(members.items()):
                    if position is not None and position <= self._since.get((group, key), 0):
                        continue
                    if handed is not None:
                        if key in handed:
                            continue
                        handed.add(key)
                    if member.wide:
                        wide.append((group, key, member, text, made))
                    elif self._holds(group, key, member):
                        await member.deliver(text, made)
        # Wide selections last, with the loop free after each one run: a socket's hundred wide
        # selections delay no narrow one, no ping and no other socket's message.
        for group, key, member, text, made in wide:
            if self._holds(group, key, member) and await member.deliver(text, made):
                await asyncio.sleep(0)

    def _holds(self, group, key, member):
        # Each delivery awaits a send: the loop may have served a leave meanwhile.
        return self._members.get(group, {}).get(key) is member


class ServerChannel:
    """This process's channel on the layer: in ``SERVERS`` while it serves a socket, read by one task."""

    def __init__(self, handle):
        self._handle = handle  # coroutine function, called with each message
        self.name = None
        self._joined = False
        self._lock = None
        self._reader = None

    async def start(self, layer):
        """Name the channel and start reading it (once per process, however many sockets connect at once)."""
        if self._lock is None:
            # Made on the server's loop: before Python 3.10 a lock binds to the loop current at its making.
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.name is None:
                new = await layer.new_channel()
                self.name = server_channel_of(new) or new
            if self._reader is None or self._reader.done():
                self._reader = asyncio.get_running_loop().create_task(self._read(layer))

    async def serve(self, layer, wanted, *, refresh=False):
        """Be in ``SERVERS`` if ``wanted()`` says sockets are open here, else not.

        ``refresh`` adds the channel again even when it is in: that renews the
        layer's group expiry, and heals a membership another process took away
        while this one was too slow to renew its sockets' leases.
        """
        async with self._lock:
            if wanted():
                if refresh or not self._joined:
                    await layer.group_add(SERVERS, self.name)
                self._joined = True
            elif self._joined:
                await layer.group_discard(SERVERS, self.name)
                self._joined = False

    async def _read(self, layer):
        receive = functools.partial(layer.receive, self.name)
        rejoin = functools.partial(self._rejoin, layer)
        while True:
            message = await layer_reading.survive(receive, recover=rejoin)
            try:
                await self._handle(message)
            except Exception:
                logger.exception("Could not write a notification to this server's sockets.")

    async def _rejoin(self, layer):
        # A layer restarted empty forgot that this process is in SERVERS.
        async with self._lock:
            if self._joined:
                await layer.group_add(SERVERS, self.name)
            else:
                await layer.group_discard(SERVERS, self.name)
