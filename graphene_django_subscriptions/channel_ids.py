"""The ``channelId`` a client echoes back: its socket's channel name, signed by the server.

A client can only name a socket whose id the server issued, so a guessed or
altered id never subscribes anybody's socket.
"""

from django.core import signing

from . import app_settings
from .protocols.common import ProtocolError

SALT = "graphene_django_subscriptions.channel_id"


def issue(channel_name):
    """The opaque id sent to the client in the connect frame."""
    return signing.dumps(channel_name, salt=SALT)


def resolve(channel_id):
    """Return the channel name behind ``channel_id`` or raise ``ProtocolError``."""
    if not isinstance(channel_id, str) or not channel_id:
        raise ProtocolError("channelId is required: use the channel_id of your socket's connect frame.")
    not_ours = ProtocolError(
        f"channelId {app_settings.echo(channel_id)} was not issued by this server: use the "
        "channel_id your socket received in its connect frame."
    )
    if len(channel_id) > app_settings.get("MAX_CHANNEL_ID_CHARS"):
        raise not_ours  # far longer than any the server issues: not worth checking
    try:
        channel_name = signing.loads(channel_id, salt=SALT)
    except (signing.BadSignature, ValueError):  # ValueError: text that is not UTF-8, bad base64
        raise not_ours from None
    if not isinstance(channel_name, str):
        raise ProtocolError(f"channelId {app_settings.echo(channel_id)} does not name a socket.")
    return channel_name
