"""Sockets left behind by a server that stopped without closing them are forgotten."""

import json

from graphene_django_subscriptions import channel_ids
from support.client import Socket, graphql, subscribe, subscription_request, wait_for
from support.servers import LEGACY, Server, django_admin

RECORDED = (
    "import json; from graphene_django_subscriptions.models import SubscriberSocket; "
    "print(json.dumps(sorted(SubscriberSocket.objects.values_list('channel_name', flat=True))))"
)

# Two sockets of a server that died: one two days old (past the layers'
# default group_expiry of one day), one an hour old.
LEFT_BEHIND = """
from datetime import timedelta
from django.utils import timezone
from graphene_django_subscriptions.models import SubscriberSocket, SubscriptionRecord
for name, age in (("dead-two-days", timedelta(days=2)), ("quiet-one-hour", timedelta(hours=1))):
    socket = SubscriberSocket.objects.create(channel_name=name)
    SubscriberSocket.objects.filter(pk=socket.pk).update(connected_at=timezone.now() - age)
    SubscriptionRecord.objects.create(socket=socket, stream="users", action="update", fields_key="all")
"""


def recorded(env):
    """The channel names of every socket the database remembers."""
    return json.loads(django_admin(env, "shell", "-c", RECORDED).stdout.strip().splitlines()[-1])


def test_a_restarted_server_forgets_the_sockets_of_the_one_that_crashed(workdir, project):
    env = project("crash")
    crashed = Server(env, workdir / "crash-1.log")
    old = Socket(crashed)
    subscribe(crashed, old, action="CREATE")
    crashed.kill()
    assert recorded(env) == [channel_ids.resolve(old.channel_id)]

    restarted = Server(env, workdir / "crash-2.log")
    try:
        new = Socket(restarted)
        # The in-memory layer died with its process: nothing recorded before can be reached.
        assert recorded(env) == [channel_ids.resolve(new.channel_id)]
        reply = graphql(restarted, subscription_request("userSubscription", old.channel_id, action="CREATE"))
        assert reply["data"]["userSubscription"]["error"] == (
            "That socket is no longer connected: reconnect and use the channel_id of the new connection."
        )
        subscribe(restarted, new, action="CREATE")
        new.close()
    finally:
        restarted.stop()


def _test_on_redis_only_sockets_past_the_group_expiry_are_forgotten(workdir, project):
    # A server of its own (own database, own Redis prefix): on Channels 1 every
    # worker on a layer takes connect messages, so no other server may share it.
    env = project("expiry", layer="redis")
    django_admin(env, "shell", "-c", LEFT_BEHIND)
    server = Server(env, workdir / "expiry.log")
    try:
        sock = Socket(server)
        # Another live server may still hold the hour-old socket: only the layer's
        # group_expiry proves a socket is gone.
        assert recorded(env) == sorted([channel_ids.resolve(sock.channel_id), "quiet-one-hour"])
        sock.close()
    finally:
        server.stop()


def _test_on_redis_sockets_whose_lease_nobody_renews_are_forgotten_and_live_ones_kept(workdir, project):
    env = project("lease", layer="redis")
    env["GDS_LIMITS"] = json.dumps({"SOCKET_LEASE_SECONDS": 3})
    django_admin(env, "shell", "-c", LEFT_BEHIND)
    server = Server(env, workdir / "lease.log")
    try:
        sock = Socket(server)
        # Both rows were left by no live server: nobody renews them, so after the
        # lease (3 s here) they go, whatever their age; the live socket's row stays.
        live = channel_ids.resolve(sock.channel_id)
        wait_for(lambda: recorded(env) == [live], timeout=15)
        subscribe(server, sock, action="CREATE")
        sock.close()
    finally:
        server.stop()


# Channels 1 tells the application nothing of a live socket between its messages, so
# the legacy engine holds no leases and only a layer's group_expiry proves a socket gone.
if LEGACY:
    test_on_redis_only_sockets_past_the_group_expiry_are_forgotten = (
        _test_on_redis_only_sockets_past_the_group_expiry_are_forgotten
    )
else:
    test_on_redis_sockets_whose_lease_nobody_renews_are_forgotten_and_live_ones_kept = (
        _test_on_redis_sockets_whose_lease_nobody_renews_are_forgotten_and_live_ones_kept
    )
