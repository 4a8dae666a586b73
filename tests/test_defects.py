"""Each defect of the 2018 package (docs/changelog.rst lists them under 1.0.0), with the test that catches it."""

import json

import pytest
import requests
from django.core import signing

from graphene_django_subscriptions import channel_ids
from support.client import (
    ADMIN,
    Socket,
    assert_nothing_more,
    create_group,
    create_user,
    graphql,
    login,
    post,
    subscribe,
    subscription_request,
    unique,
    update_user,
    wait_for,
)


@pytest.fixture
def sockets(server):
    opened = []

    def open_socket(cookie=None):
        sock = Socket(server, cookie=cookie)
        opened.append(sock)
        return sock

    yield open_socket
    for sock in opened:
        sock.close()


def test_field_selection_is_per_subscriber(server, sockets):
    first, second = sockets(), sockets()
    name = unique()
    pk = create_user(server, name)
    subscribe(server, first, id=pk, data=["ID"])
    subscribe(server, second, id=pk, data=["USERNAME", "LAST_NAME"])
    update_user(server, pk, lastName="x")
    assert first.recv()["payload"]["data"] == {"id": pk}
    assert second.recv()["payload"]["data"] == {"username": name, "last_name": "x"}
    assert_nothing_more(first, second)


def test_two_streams_on_one_model_do_not_cross_deliver(server, sockets):
    users, counted = sockets(), sockets()
    pk = create_user(server, unique())
    subscribe(server, users, id=pk, data=["ID"])
    subscribe(server, counted, field="countedSubscription", id=pk, data=["ID"])
    update_user(server, pk, firstName="once")
    update_user(server, pk, lastName="twice")
    for sock, stream in ((users, "users"), (counted, "counted")):
        frames = [sock.recv(), sock.recv()]
        assert (
            frames
            == [{"stream": stream, "payload": {"action": "update", "model": "auth.user", "data": {"id": pk}}}]
            * 2
        )
    assert_nothing_more(users, counted)


def test_get_binding_returns_one_binding_and_one_notification(server, sockets):
    from example.subscriptions import UserSubscription

    assert UserSubscription.get_binding() is UserSubscription.get_binding()
    # The servers' demultiplexers called get_binding() for "users" twice (example and tests).
    sock = sockets()
    pk = create_user(server, unique())
    subscribe(server, sock, id=pk, data=["ID"])
    subscribe(server, sock, field="groupSubscription", action="CREATE")
    update_user(server, pk, firstName="one")
    assert sock.recv()["payload"] == {"action": "update", "model": "auth.user", "data": {"id": pk}}
    gid = create_group(server, unique("g"))
    assert sock.recv()["payload"]["data"]["id"] == gid  # no second copy of the update came first
    assert_nothing_more(sock)  # nor after


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda real: "GthKdsYVrK!WxRCdJQMPi", id="garbage"),
        pytest.param(lambda real: signing.loads(real, salt=channel_ids.SALT), id="raw-channel-name"),
        pytest.param(lambda real: real[:-2] + ("AA" if real[-2:] != "AA" else "BB"), id="tampered-signature"),
        pytest.param(lambda real: signing.dumps("daphne.response.x!y", salt="other"), id="other-salt"),
    ],
)
def test_forged_channel_id_is_refused_and_subscribes_nothing(server, sockets, forge):
    sock = sockets()
    forged = forge(sock.channel_id)
    reply = graphql(server, subscription_request("userSubscription", forged, action="CREATE"))
    # Errors quote at most 40 characters of what the client sent.
    quoted = repr(forged) if len(forged) <= 40 else f"{forged[:40]!r}… ({len(forged)} characters)"
    assert reply == {
        "data": {
            "userSubscription": {
                "ok": False,
                "error": f"channelId {quoted} was not issued by this server: use the channel_id your socket received in its connect frame.",
                "stream": "users",
                "operation": "SUBSCRIBE",
                "action": "CREATE",
            }
        }
    }
    subscribe(server, sock, field="groupSubscription", action="CREATE")
    create_user(server, unique())
    gid = create_group(server, unique("g"))
    assert sock.recv()["payload"]["data"]["id"] == gid
    assert_nothing_more(sock)


def _members(server):
    return requests.get(f"{server.http}/testing/groups/", timeout=10).json()


def test_disconnect_drops_every_membership(server, sockets):
    sock = sockets()
    channel_name = signing.loads(sock.channel_id, salt=channel_ids.SALT)
    pk = create_user(server, unique())
    subscribe(server, sock, action="ALL_ACTIONS", id=pk, data=["ID"])  # over HTTP
    sock.send(
        {
            "stream": "groups",
            "payload": {"action": "subscribe", "data": {"action": "create"}, "request_id": "s"},
        }
    )
    assert sock.recv()["payload"]["response_status"] == 200  # over the socket
    joined = [group for group, members in _members(server).items() if channel_name in members]
    assert len(joined) == 3
    sock.close()
    wait_for(lambda: not any(channel_name in members for members in _members(server).values()))
    reply = graphql(server, subscription_request("userSubscription", sock.channel_id, action="CREATE"))
    assert reply["data"]["userSubscription"]["error"] == (
        "That socket is no longer connected: reconnect and use the channel_id of the new connection."
    )


def test_rolled_back_changes_send_nothing(server, sockets):
    sock = sockets()
    existing = create_user(server, unique())
    subscribe(server, sock, action="ALL_ACTIONS", data=["USERNAME"])
    post(server, "/testing/rollback/", {"username": unique("rb"), "existing": existing})
    name = unique("after")
    create_user(server, name)
    assert sock.recv() == {
        "stream": "users",
        "payload": {"action": "create", "model": "auth.user", "data": {"username": name}},
    }
    assert_nothing_more(sock)


def test_notifications_leave_after_the_commit(server, sockets):
    sock = sockets()
    subscribe(server, sock, action="CREATE", data=["USERNAME"])
    name = unique("tx")
    post(server, "/testing/marked-commit/", {"username": name, "channel_id": sock.channel_id})
    assert sock.recv() == {"marker": "before-commit"}
    assert sock.recv() == {
        "stream": "users",
        "payload": {"action": "create", "model": "auth.user", "data": {"username": name}},
    }
    assert_nothing_more(sock)


def group_created(stream, gid, name, **extra):
    return {
        "stream": stream,
        "payload": {"action": "create", "model": "auth.group", "data": dict(id=gid, name=name, **extra)},
    }


def test_a_failing_serializer_is_logged_and_the_save_stands(server, sockets):
    # A change reaches its model's streams in the order they were declared. The
    # failing stream has one on each side, so whatever that order, stopping at
    # the failure would starve a stream this test listens to.
    order = requests.get(f"{server.http}/testing/streams/auth/group/", timeout=10).json()["streams"]
    assert order.index("groups") < order.index("fragile") < order.index("guarded"), order
    session, cookie = login(server, unique("member"))
    fragile, before, after = sockets(), sockets(), sockets(cookie)
    subscribe(server, fragile, field="fragileSubscription", action="CREATE")
    subscribe(server, before, field="groupSubscription", action="CREATE")
    subscribe(server, after, field="guardedSubscription", action="CREATE", session=session)
    boom = unique("boom")
    reply = graphql(
        server,
        "mutation { createGroup(newGroup: {name: %s}) { ok group { id } } }" % json.dumps(boom),
        headers=ADMIN,
    )
    heard = {"groups": before.drain(), "guarded": after.drain()}
    gid = {g["name"]: int(g["id"]) for g in graphql(server, "{ groups { id name } }")["data"]["groups"]}[boom]
    # Every stream beside the failing one heard of the change...
    assert heard == {
        "groups": [group_created("groups", gid, boom)],
        "guarded": [group_created("guarded", gid, boom)],
    }
    # ...and the code that saved it never saw the failure.
    assert reply == {"data": {"createGroup": {"ok": True, "group": {"id": str(gid)}}}}
    fine = unique("fine")
    fine_id = create_group(server, fine)
    # The failing stream sent nothing for the group it could not serialize, and still serves the next.
    assert fragile.recv() == group_created("fragile", fine_id, fine, label=fine.upper())
    assert [before.recv(), after.recv()] == [
        group_created("groups", fine_id, fine),
        group_created("guarded", fine_id, fine),
    ]
    assert_nothing_more(fragile, before, after)
    log = server.log()
    assert (
        f"Could not notify stream 'fragile' of create of Group pk={gid}; the change itself is saved." in log
    )
    assert f"RuntimeError: cannot label {boom}" in log


def test_queryset_limits_what_can_be_followed_and_what_is_sent(server, sockets):
    sock = sockets()
    outsider = post(server, "/testing/user/", {"username": unique("out")})["id"]
    staff = post(server, "/testing/user/", {"username": unique("staff"), "is_staff": True})["id"]
    reply = graphql(server, subscription_request("staffSubscription", sock.channel_id, id=outsider))
    assert reply["data"]["staffSubscription"]["error"] == (
        f"Unknown id '{outsider}' on stream 'staff': no such object can be followed."
    )
    subscribe(server, sock, field="staffSubscription", action="UPDATE", data=["ID"])
    update_user(server, outsider, firstName="not staff")
    update_user(server, staff, firstName="staff")
    assert sock.recv() == {
        "stream": "staff",
        "payload": {"action": "update", "model": "auth.user", "data": {"id": staff}},
    }
    assert_nothing_more(sock)
