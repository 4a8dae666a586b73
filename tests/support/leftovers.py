"""What a server still keeps of sockets: their rows in the database and their places in the layer's groups."""

import json

import requests
from django.core import signing

from graphene_django_subscriptions import channel_ids
from support.client import TIMEOUT
from support.servers import django_admin

ROWS = """
import json
from graphene_django_subscriptions.models import SubscriberSocket, SubscriptionRecord
names = json.loads({names!r})
print(json.dumps([
    SubscriberSocket.objects.filter(channel_name__in=names).count(),
    SubscriptionRecord.objects.filter(socket__channel_name__in=names).count(),
]))
"""

TABLES = """
import json
from graphene_django_subscriptions.models import SubscriberSocket, SubscriptionRecord
print(json.dumps([SubscriberSocket.objects.count(), SubscriptionRecord.objects.count()]))
"""


def channel_name(sock):
    return signing.loads(sock.channel_id, salt=channel_ids.SALT)


def recorded(env, sockets=None):
    """(socket rows, subscription rows) the database keeps for ``sockets`` (None: for every socket)."""
    if sockets is None:
        code = TABLES
    else:
        code = ROWS.format(names=json.dumps([channel_name(sock) for sock in sockets]))
    output = django_admin(env, "shell", "-c", code).stdout
    return json.loads(output.strip().splitlines()[-1])


def memberships(server, sockets):
    """``{group: members}`` of ``sockets`` in the package's groups of an in-memory layer (read over HTTP)."""
    names = {channel_name(sock) for sock in sockets}
    groups = requests.get(f"{server.http}/testing/groups/", timeout=TIMEOUT).json()
    return {group: sorted(names & set(members)) for group, members in groups.items() if names & set(members)}


def redis_memberships(redis_url, prefix):
    """How many places the package's groups hold in a Redis layer under ``prefix`` (RedisChannelLayer)."""
    import redis

    client = redis.StrictRedis.from_url(redis_url)
    return sum(client.zcard(key) for key in client.scan_iter(match=f"{prefix}*group:gds.*", count=1000))
