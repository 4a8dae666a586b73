"""The modern engine: Channels 4, on any channel layer (in-memory, Redis, Redis PubSub).

Groups are local to each server process (see ``fanout``): a change crosses
the layer once per process, which writes it to its own sockets. A subscribe
request served by another process sends the socket's consumer a
``gds.move_groups`` message; one served by the socket's own process changes the
socket's groups on its event loop, ahead of any later notification.

What the process serves, and its heartbeat, are ``serving.this_process``'s.
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

from .. import (
    app_settings,
    change_log,
    channel_ids,
    memory,
    notifications,
    rates,
    recipients,
    sockets,
    subscribe_requests,
)
from ..close_codes import CloseCode
from ..protocols import channels_api, common
from . import inbound, layer_reading, send_buffer
from .fanout import SERVERS
from .log_tail import WAKE
from .serving import this_process
from .streams import Bindings, check_consumers

logger = logging.getLogger(__name__)

NOTIFY = "gds.notify"
MOVE_GROUPS = "gds.move_groups"
CLOSE = "gds.close"

#: The channel layer to name when one process is not enough.
REDIS_LAYER = "channels_redis.core.RedisChannelLayer"


def layer_is_process_local():
    """Whether the default channel layer reaches only sockets of this process (the in-memory layer)."""
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def _run(coroutine):
    """Run ``coroutine`` from synchronous code, within ``LAYER_SEND_TIMEOUT`` (else ``TimeoutError``).

    It runs on the server's event loop when this process serves sockets: the
    in-memory layer's queues belong to that loop, and a Redis layer's
    connections are shared with the consumers there. Elsewhere (a management
    command) it runs on a loop the calling thread keeps, which also works while
    the process exits (``async_to_sync`` needs a thread pool that is shut by then).
    Never call it on the server's loop.
    """
    bounded = asyncio.wait_for(coroutine, app_settings.get("LAYER_SEND_TIMEOUT"))
    server_loop = this_process.serving_loop()
    if server_loop is not None:
        return asyncio.run_coroutine_threadsafe(bounded, server_loop).result()
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


def send_to_groups(messages, once=False):
    """Send ``(group, text)`` pairs (from synchronous code, off the server's event loop); ``once``: each
    member of several of the groups gets one text."""
    _run(_send_to_groups(get_channel_layer(), messages, once))


async def _send_to_groups(layer, messages, once=False):
    # One message for every server process; the time is a wall clock, as the receiver may be another.
    message = {"type": NOTIFY, "texts": list(messages), "sent": time.time()}
    if once:
        message["once"] = True
    await layer.group_send(SERVERS, message)


def delivers_from_log():
    """Whether each server process delivers the changes it reads from the change log (``CHANGE_LOG``)."""
    return change_log.enabled()


def wake_servers():
    """Tell every server process to read the change log now (from synchronous code); return True."""
    sender = None
    if this_process.serving_loop() is not None:
        this_process.tail.wake_soon()  # this process's own sockets need no layer
        sender = this_process.channel.name
        if layer_is_process_local():
            return True  # and the layer reaches no other
    _run(get_channel_layer().group_send(SERVERS, {"type": WAKE, "from": sender}))
    return True


def move_groups(channel_name, moves, text):
    """Make the socket leave and join groups, then send it ``text``.

    A socket of this process is changed on the server's event loop ahead of
    anything this process later hands to it (a notification of a change
    saved after this request, say), without waiting: a loop busy with a
    thousand connecting sockets must not fail the request. Another process's
    socket is asked to change with a message to its consumer.
    """
    if channel_name in this_process.open:
        this_process.apply_soon(channel_name, moves, text)
        return
    message = {
        "type": MOVE_GROUPS,
        "join": moves.join,
        "leave": moves.leave,
        "since": moves.since,
        "text": text,
    }
    _run(get_channel_layer().send(channel_name, message))


def local_groups():
    """``{group: channel names}`` of this process's sockets (for tests and debugging)."""
    return _run(_table())


async def _table():
    return this_process.groups.table()


def close_sockets(closing, code):
    """Ask each socket's consumer to leave its groups and close with ``code``.

    ``closing`` maps channel names to the groups each socket was in.
    """
    _run(_close_sockets(get_channel_layer(), closing, code))


async def _close_sockets(layer, closing, code):
    for channel_name, groups in closing.items():
        await layer.send(channel_name, {"type": CLOSE, "code": code, "leave": sorted(groups)})


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
            moves, reply = await database_sync_to_async(subscribe_requests.run_socket_request)(
                cls.subscription, request, demultiplexer.channel_name, demultiplexer.scope.get("user")
            )
            if moves is not None:
                demultiplexer.change_groups(moves.join, moves.leave, moves.since)
        except Exception:
            logger.exception("Socket request on stream %r failed", cls.stream)
            reply = request.error_frame(common.server_error())
        await demultiplexer.send_reply(reply)


#: The one binding of a Subscription's stream.
binding_for = Bindings(SubscriptionBinding)


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
            this_process.ended(getattr(self, "channel_name", None), self._recorded)
            self.leave_groups(None)

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
        notifications.socket_connected()
        session = self.scope.get("session")
        session_key = recipients.credential_key(credential) if credential is not None else None
        self._recorded = True
        await this_process.serve(self, self.channel_layer)
        stale = await database_sync_to_async(_remember)(
            self.channel_name,
            user=user,
            session_key=session_key or getattr(session, "session_key", None),
            process_local=isinstance(self.channel_layer, InMemoryChannelLayer),
        )
        await this_process.forget_stale(self.channel_layer, stale)

    async def disconnect(self, code):
        """Leave every group the socket joined, however it joined them, and forget the socket."""
        if self.channel_layer is None or not self._recorded:
            return
        groups = await this_process.closed(self.channel_name)
        self.leave_groups(groups)
        self.leave_groups(None)
        self._recorded = False
        await this_process.update_channel(self.channel_layer)
        memory.after_close(asyncio.get_running_loop())

    def leave_groups(self, groups):
        """Take the socket out of ``groups`` here (None: out of every group it is in)."""
        raise NotImplementedError

    #: A 2018 socket's notification is ready-made text: never a wide selection (see ``fanout.LocalGroups``).
    wide = False

    async def deliver(self, text, made):
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
                app_settings.get("MAX_UNREAD_BYTES_PER_SOCKET"),
                CloseCode.UNREAD,
            )
            await self.close_for(CloseCode.UNREAD)

    def _over_unread_bytes(self):
        if self._closing:
            return False
        unsent = send_buffer.unsent_bytes(self._transport)
        return unsent is not None and unsent > app_settings.get("MAX_UNREAD_BYTES_PER_SOCKET")

    async def refused_too_often(self):
        """Count one refusal of the client's request; past the limit, close the socket (4508) and say True.

        A client that sends on regardless of refusals would only pile up answers it never reads.
        """
        if self._refusals.allows():
            return False
        rates.report_refusal_flood(self.channel_name)
        await self.close_for(CloseCode.REFUSED_TOO_OFTEN)
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
        if message["type"] == MOVE_GROUPS:  # a subscribe request served by another process
            self.change_groups(message["join"], message["leave"], message.get("since"))
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
        frame = channels_api.connect_frame(channel_ids.issue(self.channel_name))
        await self.send_frame(frame)

    async def receive(self, text_data=None, bytes_data=None):
        """Parse a frame and hand it to its stream's binding."""
        if self._closing:
            return
        try:
            request = channels_api.parse_frame(text_data, self.consumers)
        except channels_api.FrameError as error:
            await self.send_reply(error.frame)
            return
        await self.consumers[request.stream](self, request)

    def leave_groups(self, groups):
        """Take the socket out of ``groups`` here (None: out of every group it is in)."""
        self.change_groups([], list(self._groups if groups is None else groups))

    def change_groups(self, join, leave, since=None):
        """Leave then join groups (this process's own: see ``fanout``).

        ``since``: the change log's position when the joins were recorded (changes
        at or before it were committed before them: not theirs to hear).
        """
        for group in leave:
            this_process.groups.leave(self.channel_name, group)
            self._groups.discard(group)
        for group in join:
            this_process.groups.join(self, group, since=since)
            self._groups.add(group)

    async def send_frame(self, frame):
        """Send one protocol frame."""
        await self.send(text_data=channels_api.encode(frame))

    async def send_reply(self, frame):
        """Send the answer to a client's frame (a refusal counts, see ``refused_too_often``)."""
        if channels_api.is_refusal(frame) and await self.refused_too_often():
            return
        await self.send_frame(frame)
