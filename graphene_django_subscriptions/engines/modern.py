"""The modern engine: Channels 4, on any channel layer (in-memory, Redis, Redis PubSub).

Groups are local to each server process (see ``fanout``): a change crosses
the layer once per process, which writes it to its own sockets. A subscribe
request served by another process sends the socket's consumer a
``gds.change`` message; one served by the socket's own process changes the
socket's groups on its event loop, ahead of any later notification.

Each server process keeps a heartbeat task: it renews the lease of the
process's open sockets, forgets the sockets whose consumer ended before its
``disconnect()`` was done (daphne kills consumers that take too long to
close), and forgets sockets of any process whose lease ran out.
"""

import asyncio
import functools
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer

from .. import channel_ids, dispatch, limits, memory, protocol, rates, recipients, requests, sockets
from . import inbound, layer_reading, send_buffer
from .coalesced import Coalesced
from .fanout import SERVERS, LocalGroups, ServerChannel, server_channel_of
from .streams import Bindings, check_consumers

logger = logging.getLogger(__name__)

NOTIFY = "gds.notify"
CHANGE = "gds.change"
CLOSE = "gds.close"

#: The channel layer to name when one process is not enough.
REDIS_LAYER = "channels_redis.core.RedisChannelLayer"


def layer_is_process_local():
    """Whether the default channel layer reaches only sockets of this process (the in-memory layer)."""
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


#: The event loop of this process's server, once a socket has connected to it.
_server_loop = None


def _run(coroutine):
    """Run ``coroutine`` from synchronous code, within ``LAYER_SEND_TIMEOUT`` (else ``TimeoutError``).

    It runs on the server's event loop when this process serves sockets: the
    in-memory layer's queues belong to that loop, and a Redis layer's
    connections are shared with the consumers there. Elsewhere (a management
    command) it runs on a loop the calling thread keeps, which also works while
    the process exits (``async_to_sync`` needs a thread pool that is shut by then).
    Never call it on the server's loop.
    """
    bounded = asyncio.wait_for(coroutine, limits.get("LAYER_SEND_TIMEOUT"))
    if _server_loop is not None and _server_loop.is_running():
        return asyncio.run_coroutine_threadsafe(bounded, _server_loop).result()
    loop = getattr(_thread_loops, "loop", None)
    if loop is None:
        loop = _thread_loops.loop = asyncio.new_event_loop()
        loop.set_default_executor(_InlineExecutor())
    return loop.run_until_complete(bounded)


_thread_loops = threading.local()


class _InlineExecutor(ThreadPoolExecutor):
    """Runs each call at once in the calling thread (a name lookup for the layer's host, say).

    That thread may block; and Python 3.12 starts no thread while the
    interpreter exits, which is when a command's last notifications go.
    """

    def submit(self, fn, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def send_to_groups(messages):
    """Send ``(group, text)`` pairs (from synchronous code, off the server's event loop)."""
    _run(_send_to_groups(get_channel_layer(), messages))


async def _send_to_groups(layer, messages):
    # One message for every server process; the time is a wall clock, as the receiver may be another.
    await layer.group_send(SERVERS, {"type": NOTIFY, "texts": list(messages), "sent": time.time()})


async def _notify(message):
    _check_lag(message)
    await _local.write(message["texts"])


#: When this process last said that its notifications arrive late (a monotonic time).
_lag_reported = None
#: Seconds between two reports of late notifications.
LAG_REPORT_INTERVAL = 60


def _check_lag(message):
    """Say (at most once a minute) when notifications reach this process late.

    A process that cannot write frames as fast as changes arrive falls
    behind, and a Redis layer drops messages that wait longer than its
    ``expiry`` without a word: this is the only sign of it.
    """
    global _lag_reported
    lag = time.time() - message.get("sent", time.time())
    if lag < limits.get("NOTIFICATION_LAG_WARNING"):
        return
    now = time.monotonic()
    if _lag_reported is not None and now - _lag_reported < LAG_REPORT_INTERVAL:
        return
    _lag_reported = now
    logger.warning(
        "Notifications reach this server's sockets %.1f s after they were sent: it writes frames more slowly "
        "than changes arrive, and a Redis channel layer drops the messages that wait longer than its expiry "
        "(60 s by default). Run more server processes. Logged at most once a minute.",
        lag,
    )


def apply_change(channel_name, change, text):
    """Make the socket leave and join groups, then send it ``text``.

    A socket of this process is changed on the server's event loop ahead of
    anything this process later hands to it (a notification of a change
    saved after this request, say), without waiting: a loop busy with a
    thousand connecting sockets must not fail the request. Another process's
    socket is asked to change with a message to its consumer.
    """
    if channel_name in _open:
        _server_loop.call_soon_threadsafe(_apply_here, channel_name, change.join, change.leave, text)
        return
    message = {"type": CHANGE, "join": change.join, "leave": change.leave, "text": text}
    _run(get_channel_layer().send(channel_name, message))


def _apply_here(channel_name, join, leave, text):
    consumer = _open.get(channel_name)
    if consumer is not None:  # it may have closed meanwhile
        consumer.change_groups(join, leave)
        sending = asyncio.ensure_future(consumer.send(text_data=text))
        _sending.add(sending)  # the loop keeps only a weak reference to a task
        sending.add_done_callback(_sending.discard)


_sending = set()


def local_groups():
    """``{group: channel names}`` of this process's sockets (for tests and debugging)."""
    return _run(_table())


async def _table():
    return _local.table()


def close_sockets(closing, code):
    """Ask each socket's consumer to leave its groups and close with ``code``.

    ``closing`` maps channel names to the groups each socket was in.
    """
    _run(_close_sockets(get_channel_layer(), closing, code))


async def _close_sockets(layer, closing, code):
    for channel_name, groups in closing.items():
        await layer.send(channel_name, {"type": CLOSE, "code": code, "leave": sorted(groups)})


#: This process's open sockets: channel name to consumer.
_open = {}
#: Sockets whose consumer ended before its disconnect() was done (channel names).
_orphans = set()
#: Which of this process's sockets are in which group.
_local = LocalGroups()
#: This process's channel on the layer, where notifications for its sockets arrive.
_server = ServerChannel(_notify)
_heartbeat = None


async def _start_serving(layer):
    """Start this process's heartbeat and server channel, and put the channel in ``SERVERS``."""
    global _heartbeat, _server_loop
    _server_loop = asyncio.get_running_loop()
    if _heartbeat is None or _heartbeat.done():
        _heartbeat = _server_loop.create_task(_beat(layer))
    await _server.start(layer)
    await _server.serve(layer, _serves_sockets)


def _serves_sockets():
    return bool(_open)


async def _beat(layer):
    while True:
        await asyncio.sleep(sockets.lease_interval())
        try:
            await _beat_once(layer)
        except Exception:
            logger.exception("The socket heartbeat failed this time; it runs again shortly.")


async def _beat_once(layer):
    """Renew this process's leases, forget its orphans and every expired socket, leave their groups."""
    orphans = set(_orphans)
    _orphans.clear()
    try:
        gone, forgotten = await database_sync_to_async(_renew_and_sweep)(list(_open), list(orphans))
    except Exception:
        _orphans.update(orphans)  # the next beat tries again
        raise
    await _leave(layer, forgotten)
    for name in gone:
        consumer = _open.get(name)
        if consumer is not None:
            logger.warning("Socket %s was forgotten while open (its lease ran out); closing it.", name)
            await consumer.close(code=protocol.CLOSE_FORGOTTEN)
    await _server.serve(layer, _serves_sockets, refresh=True)


def _renew_and_sweep(open_names, orphan_names):
    gone = sockets.renew(open_names)
    forgotten = sockets.forget_named(orphan_names)
    forgotten.update(sockets.forget_expired())
    return gone, forgotten


async def _leave(layer, forgotten):
    """Take forgotten sockets out of their groups, and dead processes' server channels out of ``SERVERS``.

    A socket of another process is forgotten when its lease ran out: its whole
    process has stopped renewing (if it is only slow, its heartbeat adds its
    channel again).
    """
    dead = set()
    for name, groups in forgotten.items():
        for group in groups:
            _local.leave(name, group)
        server = server_channel_of(name)
        if name not in _open and server is not None and server != _server.name:
            dead.add(server)
    for server in dead:
        await layer.group_discard(SERVERS, server)


class SubscriptionBinding:
    """Serves one stream's socket requests; its ``consumer`` goes in a demultiplexer."""

    subscription = None
    stream = None
    model = None
    serializer_class = None

    @classmethod
    async def consumer(cls, demultiplexer, request):
        """Serve ``request`` from ``demultiplexer``'s socket and reply on it."""
        try:
            change, reply = await database_sync_to_async(requests.run_socket_request)(
                cls.subscription, request, demultiplexer.channel_name, demultiplexer.scope.get("user")
            )
            if change is not None:
                demultiplexer.change_groups(change.join, change.leave)
        except Exception:
            logger.exception("Socket request on stream %r failed", cls.stream)
            reply = request.error_frame(protocol.server_error())
        await demultiplexer.send_reply(reply)


#: The one binding of a Subscription's stream.
binding_for = Bindings(
    SubscriptionBinding,
    lambda subscription: {
        "model": subscription._meta.model,
        "serializer_class": subscription._meta.serializer_class,
    },
)


#: Sockets that close together are forgotten together (see ``coalesced``).
_forget_closed = Coalesced(database_sync_to_async(sockets.forget_named))


def _remember(channel_name, *, user, session_key, process_local):
    """Record the socket; return the sockets the connect-time sweep forgot, with their groups."""
    sockets.remember(channel_name, user=user, session_key=session_key)
    return sockets.forget_unreachable(process_local=process_local)


class RecordedSocket(AsyncWebsocketConsumer):
    """What every consumer of the package does with its socket, whichever protocol it speaks.

    ``record(user)`` puts the socket in the database (so requests may name it,
    and its user's logout closes it) and makes this process serve it;
    ``disconnect()`` forgets it; if the consumer dies first, the heartbeat does.
    Subclasses say how the socket leaves its groups (``leave_groups``).
    """

    async def __call__(self, scope, receive, send):
        self._recorded = False
        self._transport = send_buffer.transport_of(send)  # daphne's, or None
        self._closing = False
        self._refusals = rates.Window("MAX_REFUSALS_PER_SOCKET_PER_SECOND")
        receive = inbound.bounded(receive, self._transport)
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when daphne kills the consumer mid-disconnect: its socket leaves its
            # groups here at once, and the heartbeat forgets its rows.
            _open.pop(getattr(self, "channel_name", None), None)
            self.leave_groups(None)
            if self._recorded:
                _orphans.add(self.channel_name)

    @property
    def channel_receive(self):
        """Read the socket's channel on the layer; a failure of the layer does not end the socket."""
        return functools.partial(layer_reading.survive, self._read_layer)

    @channel_receive.setter
    def channel_receive(self, receive):
        # Channels sets it (the layer's receive of this channel) before it reads the socket.
        self._read_layer = receive

    async def dispatch(self, message):
        # Channels hops to its one database thread to close stale connections before
        # every handler. A close never touches the database; what a client sends does
        # only through database_sync_to_async, which closes them itself. Without the
        # hop, a ping waits for no other socket's database work.
        if message["type"] == CLOSE:
            self.leave_groups(message["leave"])
            await self.close(code=message["code"])
        elif message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def closed_without_layer(self, consumer):
        """Refuse the socket, saying why, when settings name no channel layer; whether it did.

        ``consumer`` is the package's class the project routed (its name goes in the log).
        """
        if self.channel_layer is not None:
            return False
        logger.error("%s needs a channel layer: set CHANNEL_LAYERS in settings.", consumer)
        await self.close()
        return True

    async def record(self, user, credential=None):
        """Remember the accepted socket and ``user``, who opened it; make this process serve it.

        The socket is recorded with what authenticated it: ``credential`` (a
        token, see ``revocation.revoke``) when given, else its session.
        """
        dispatch.socket_connected()
        session = self.scope.get("session")
        session_key = recipients.credential_key(credential) if credential is not None else None
        _open[self.channel_name] = self
        self._recorded = True
        await _start_serving(self.channel_layer)
        stale = await database_sync_to_async(_remember)(
            self.channel_name,
            user=user,
            session_key=session_key or getattr(session, "session_key", None),
            process_local=isinstance(self.channel_layer, InMemoryChannelLayer),
        )
        await _leave(self.channel_layer, stale)

    async def disconnect(self, code):
        """Leave every group the socket joined, however it joined them, and forget the socket."""
        if self.channel_layer is None or not self._recorded:
            return
        # No renewal now: its row is going, and a renewal that found it gone would close it again.
        _open.pop(self.channel_name, None)
        groups = await _forget_closed(self.channel_name)
        self.leave_groups(groups or set())
        self.leave_groups(None)
        self._recorded = False
        await _server.serve(self.channel_layer, _serves_sockets)
        memory.after_close(asyncio.get_running_loop())

    def leave_groups(self, groups):
        """Take the socket out of ``groups`` here (None: out of every group it is in)."""
        raise NotImplementedError

    #: A 2018 socket's notification is ready-made text: never a wide selection (see ``fanout.LocalGroups``).
    wide = False

    async def deliver(self, text, shared):
        """Write a notification's ``text`` from one of the socket's groups (see ``fanout.LocalGroups``)."""
        await self.send(text_data=text)

    async def send(self, text_data=None, bytes_data=None, close=False):
        """Send on the socket; a socket that closed meanwhile is not an error.

        A notification can reach the consumer after the client went away but
        before the server's disconnect message does. The server then refuses the
        write (ASGI servers raise an ``OSError`` subclass; daphne a ``RuntimeError``);
        letting that escape would kill the consumer before ``disconnect()`` could
        drop the socket's records and groups.
        """
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except (OSError, RuntimeError) as exc:
            logger.debug("Socket %s closed before a frame could be sent: %s", self.channel_name, exc)
            return
        if not close and self._over_unread_bytes():
            logger.warning(
                "Socket %s does not read what it is sent: the server holds over %s bytes for it "
                "(MAX_UNREAD_BYTES_PER_SOCKET). It is closed (%s).",
                self.channel_name,
                limits.get("MAX_UNREAD_BYTES_PER_SOCKET"),
                protocol.CLOSE_UNREAD,
            )
            await self.close_for(protocol.CLOSE_UNREAD)

    def _over_unread_bytes(self):
        if self._closing:
            return False
        unsent = send_buffer.unsent_bytes(self._transport)
        return unsent is not None and unsent > limits.get("MAX_UNREAD_BYTES_PER_SOCKET")

    async def refused_too_often(self):
        """Count one refusal of the client's request; past the limit, close the socket (4508) and say True.

        A client that sends on regardless of refusals would only pile up answers it never reads.
        """
        if self._refusals.allows():
            return False
        rates.report_refusal_flood(self.channel_name)
        await self.close_for(protocol.CLOSE_REFUSED_TOO_OFTEN)
        return True

    async def close_for(self, code):
        """Close the socket with ``code`` and end what it runs (a subclass ends its operations too)."""
        self._closing = True
        self.leave_groups(None)
        await self.close(code=code)


class GraphqlAPIDemultiplexer(RecordedSocket):
    """The WebSocket consumer: issues channel ids and routes stream frames to bindings.

    Subclass it with ``consumers = {"users": UserSubscription.get_binding().consumer}``
    and route ``YourDemultiplexer.as_asgi()``. A bad frame is answered with an
    error frame; the socket stays open.
    """

    consumers = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        check_consumers(cls, binding_for.made)

    async def __call__(self, scope, receive, send):
        self._groups = set()
        await super().__call__(scope, receive, send)

    async def dispatch(self, message):
        if message["type"] == CHANGE:  # a subscribe request served by another process
            self.change_groups(message["join"], message["leave"])
            await self.send(text_data=message["text"])
        else:
            await super().dispatch(message)

    async def connect(self):
        """Accept, remember the socket and its user, and send its channel id.

        Route it behind ``BrowserOriginValidator``, so that pages of other sites
        cannot open sockets with a visitor's cookies.
        """
        if await self.closed_without_layer("GraphqlAPIDemultiplexer"):
            return
        await self.accept()
        await self.record(self.scope.get("user"))
        frame = protocol.connect_frame(channel_ids.issue(self.channel_name))
        await self.send_frame(frame)

    async def receive(self, text_data=None, bytes_data=None):
        """Parse a frame and hand it to its stream's binding."""
        if self._closing:
            return
        try:
            request = protocol.parse_frame(text_data, self.consumers)
        except protocol.FrameError as error:
            await self.send_reply(error.frame)
            return
        await self.consumers[request.stream](self, request)

    def leave_groups(self, groups):
        """Take the socket out of ``groups`` here (None: out of every group it is in)."""
        self.change_groups([], list(self._groups if groups is None else groups))

    def change_groups(self, join, leave):
        """Leave then join groups (this process's own: see ``fanout``)."""
        for group in leave:
            _local.leave(self.channel_name, group)
            self._groups.discard(group)
        for group in join:
            _local.join(self, group)
            self._groups.add(group)

    async def send_frame(self, frame):
        """Send one protocol frame."""
        await self.send(text_data=protocol.encode(frame))

    async def send_reply(self, frame):
        """Send the answer to a client's frame (a refusal counts, see ``refused_too_often``)."""
        if protocol.is_refusal(frame) and await self.refused_too_often():
            return
        await self.send_frame(frame)
