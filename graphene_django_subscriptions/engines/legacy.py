"""The legacy engine: Channels 1.x with channels-api.

Groups hold daphne reply channels, so a notification goes from the process
that saved the object straight to every socket, with no worker in between.
"""

import logging
import threading

from asgiref.inmemory import ChannelLayer as InMemoryChannelLayer
from channels import DEFAULT_CHANNEL_LAYER, Channel, Group, channel_layers
from channels.auth import http_session_user, transfer_user
from channels.exceptions import DenyConnection
from channels.generic.websockets import WebsocketDemultiplexer
from channels.sessions import channel_session
from channels_api.bindings import ResourceBindingBase
from django.conf import settings
from django.utils.module_loading import import_string

from .. import channel_ids, notifications, origins, rates, sockets, subscribe_requests
from ..close_codes import CloseCode
from ..protocols import channels_api, common
from .streams import Bindings, check_consumers

logger = logging.getLogger(__name__)

#: The channel layer to name when one process is not enough.
REDIS_LAYER = "asgi_redis.RedisChannelLayer"


def layer_is_process_local():
    """Whether the default channel layer reaches only sockets of this process (asgiref's in-memory layer)."""
    # From the settings: building Channels 1's layer would import the project's routing.
    config = getattr(settings, "CHANNEL_LAYERS", {}).get(DEFAULT_CHANNEL_LAYER)
    return bool(config) and issubclass(import_string(config["BACKEND"]), InMemoryChannelLayer)


def delivers_from_log():
    """Channels 1's server runs no code of the application between messages: the saving process sends."""
    return False


def wake_servers():
    """Never called: see ``delivers_from_log``."""
    raise NotImplementedError("The legacy engine delivers from the saving process.")


def send_to_groups(messages, once=False):
    """Send ``(group, text)`` pairs; ``once``: each socket in several of the groups gets one text."""
    if not once:
        for group, text in messages:
            Group(group).send({"text": text}, immediately=True)
        return
    layer = channel_layers[DEFAULT_CHANNEL_LAYER].channel_layer
    sent = set()
    for group, text in messages:
        for channel in layer.group_channels(group):
            if channel not in sent:
                sent.add(channel)
                Channel(channel).send({"text": text}, immediately=True)


def move_groups(channel_name, moves, text):
    """Make a socket leave and join groups, then send it ``text``."""
    _apply(channel_name, moves)
    Channel(channel_name).send({"text": text})


def close_sockets(closing, code):
    """Make each socket leave its groups and close it with ``code``.

    ``closing`` maps reply channel names to the groups each socket was in.
    """
    for channel_name, groups in closing.items():
        for group in groups:
            Group(group).discard(channel_name)
        Channel(channel_name).send({"close": code})


def _apply(channel_name, moves):
    for group in moves.leave:
        Group(group).discard(channel_name)
    for group in moves.join:
        Group(group).add(channel_name)


def _keep_http_user(message):
    """Make a logged-in HTTP user the user of the socket's later messages.

    channels-api bindings read ``message.user`` from the channel session.
    Channels' ``http_user = True`` would copy the user there on every message and
    write a session for every socket; this copies it once, on connect, and only
    when somebody is logged in.
    """
    http_session_user(_copy_logged_in_user)(message)


def _check_origin(message):
    """Refuse (403) a socket a browser opened from a page of another site (see ``origins``).

    Channels 1 has no router-level validator: the demultiplexer checks on connect.
    """
    if origins.refused(message.content.get("headers", ()), message.content.get("path", "")):
        raise DenyConnection


def _copy_logged_in_user(message):
    if message.user.is_authenticated:
        channel_session(_copy_user)(message)


def _copy_user(message):
    transfer_user(message.http_session, message.channel_session)


def _send_frame(reply_channel, frame):
    if not channels_api.is_refusal(frame):
        reply_channel.send({"text": channels_api.encode(frame)})
        return
    # Several worker threads serve one socket's frames: a refusal is counted and sent
    # under one lock, so the last answered refusal reaches the socket before the close.
    with _refusals_lock:
        if not _refused_too_often(reply_channel):
            reply_channel.send({"text": channels_api.encode(frame)})


#: Each refused socket's window of refusals, in this process (Channels 1 consumers keep no state):
#: with several workers, a socket may be refused up to the limit by each.
_refusals = {}
_refusals_lock = threading.Lock()


def _refused_too_often(reply_channel):
    """Count one refusal; past the limit, close the socket (4508) and say True."""
    window = _refusals.setdefault(reply_channel.name, rates.Window("MAX_REFUSALS_PER_SOCKET_PER_SECOND"))
    if window.allows():
        return False
    rates.report_refusal_flood(reply_channel.name)
    reply_channel.send({"close": CloseCode.REFUSED_TOO_OFTEN})
    return True


class SubscriptionBinding(ResourceBindingBase):
    """A channels-api binding that serves one stream's socket requests.

    Its ``consumer`` goes in a ``GraphqlAPIDemultiplexer``. Model signals are
    handled once per model by the package, never by bindings, so creating more
    bindings never duplicates notifications.
    """

    model = None  # abstract
    subscription = None

    @classmethod
    def register(cls):
        # channels-api would connect the model signals here; the package owns them.
        pass

    def deserialize(self, message):
        """Take the request the demultiplexer already parsed and checked."""
        request = self.kwargs.get("request")
        if request is None:
            raise TypeError(
                f"{type(self).__name__}.consumer must be routed through a GraphqlAPIDemultiplexer, "
                "which parses the frame and passes the request on."
            )
        self.request = request
        return request.operation, request.pk, request.data

    def run_action(self, action, pk, data):
        """Serve the request through the package's rules and reply on the socket."""
        reply_channel = self.message.reply_channel
        try:
            moves, reply = subscribe_requests.run_socket_request(
                self.subscription, self.request, reply_channel.name, self.user
            )
            if moves is not None:
                _apply(reply_channel.name, moves)
        except Exception:
            logger.exception("Socket request on stream %r failed", self.stream)
            reply = self.request.error_frame(common.server_error())
        _send_frame(reply_channel, reply)


#: The one binding of a Subscription's stream.
binding_for = Bindings(SubscriptionBinding, lambda subscription: {"queryset": subscription.scope()})


class GraphqlAPIDemultiplexer(WebsocketDemultiplexer):
    """The WebSocket consumer: issues channel ids and routes stream frames to bindings.

    Subclass it with ``consumers = {"users": UserSubscription.get_binding().consumer}``.
    A bad frame is answered with an error frame; the socket stays open.
    """

    consumers = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        check_consumers(cls, binding_for.made)

    def connect(self, message, **kwargs):
        """Check the origin, accept, remember the socket and its user, and send its channel id.

        A page whose origin is not in ``ALLOWED_HOSTS`` is refused, so pages of
        other sites cannot open sockets with a visitor's cookies.
        """
        _check_origin(message)
        _keep_http_user(message)
        notifications.socket_connected()
        name = message.reply_channel.name
        layer = message.channel_layer.channel_layer
        sockets.remember(
            name,
            user=message.user,
            session_key=message.http_session.session_key if message.http_session else None,
        )
        stale = sockets.forget_unreachable(
            group_expiry=getattr(layer, "group_expiry", None),
            # asgiref's in-memory layer: runserver's daphne and workers share one process.
            process_local=type(layer).__module__ == "asgiref.inmemory",
        )
        for stale_name, groups in stale.items():
            for group in groups:
                Group(group).discard(stale_name)
        frame = channels_api.connect_frame(channel_ids.issue(name))
        message.reply_channel.send({"accept": True, "text": channels_api.encode(frame)})

    def raw_receive(self, message, **kwargs):
        """Parse a frame and hand it to its stream's binding."""
        try:
            request = channels_api.parse_frame(message.content.get("text"), self.consumers)
        except channels_api.FrameError as error:
            _send_frame(message.reply_channel, error.frame)
            return
        kwargs["multiplexer"] = self.multiplexer_class(request.stream, message.reply_channel)
        self.consumers[request.stream](message, request=request, **kwargs)

    def disconnect(self, message, **kwargs):
        """Leave every group the socket joined, however it joined them."""
        name = message.reply_channel.name
        _refusals.pop(name, None)
        for group in sockets.forget_one(name):
            Group(group).discard(name)
