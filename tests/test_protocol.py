"""Every message of the wire protocol, pinned as whole dicts (docs/protocol-2018.rst documents each)."""

import pytest

from support.client import (
    Socket,
    assert_nothing_more,
    create_group,
    create_user,
    delete_user,
    graphql,
    subscribe,
    subscription_request,
    unique,
    update_user,
)

# What an anonymous socket reads of a user: the example shows an email address
# only to the user and to staff, and never the superuser flag.
ALL_USER_FIELDS = ("id", "username", "first_name", "last_name")


def user_data(pk, username, **overrides):
    data = {
        "id": pk,
        "username": username,
        "first_name": "",
        "last_name": "",
    }
    data.update(overrides)
    return data


def test_connect_frame_carries_an_opaque_channel_id(socket):
    assert socket.hello == {"channel_id": socket.channel_id, "connect": "success"}
    assert isinstance(socket.channel_id, str) and len(socket.channel_id) > 20


def test_subscribe_update_by_id_replies_confirms_and_notifies(server, socket):
    name = unique()
    pk = create_user(server, name)
    reply = graphql(server, subscription_request("userSubscription", socket.channel_id, id=pk))
    assert reply == {
        "data": {
            "userSubscription": {
                "ok": True,
                "error": None,
                "stream": "users",
                "operation": "SUBSCRIBE",
                "action": "UPDATE",
            }
        }
    }
    assert socket.recv() == {
        "action": "update",
        "operation": "subscribe",
        "ok": True,
        "stream": "users",
        "error": None,
    }
    update_user(server, pk, firstName="Meaghan")
    assert socket.recv() == {
        "stream": "users",
        "payload": {
            "action": "update",
            "model": "auth.user",
            "data": user_data(pk, name, first_name="Meaghan"),
        },
    }


def test_create_without_id_notifies_every_new_object(server, socket):
    subscribe(server, socket, action="CREATE")
    name = unique()
    pk = create_user(server, name)
    assert socket.recv() == {
        "stream": "users",
        "payload": {"action": "create", "model": "auth.user", "data": user_data(pk, name)},
    }


def test_delete_by_id_notifies_with_the_last_state(server, socket):
    name = unique()
    pk = create_user(server, name, lastName="Ackerman")
    subscribe(server, socket, action="DELETE", id=pk)
    delete_user(server, pk)
    assert socket.recv() == {
        "stream": "users",
        "payload": {
            "action": "delete",
            "model": "auth.user",
            "data": user_data(pk, name, last_name="Ackerman"),
        },
    }


def test_update_without_id_notifies_for_every_object(server, socket):
    subscribe(server, socket, action="UPDATE")
    first, second = create_user(server, unique()), create_user(server, unique())
    update_user(server, first, lastName="a")
    update_user(server, second, lastName="b")
    received = [socket.recv()["payload"]["data"] for _ in range(2)]
    assert [(d["id"], d["last_name"]) for d in received] == [(first, "a"), (second, "b")]


def test_all_actions_without_id_means_create_update_and_delete(server, socket):
    reply = graphql(
        server, subscription_request("userSubscription", socket.channel_id, action="ALL_ACTIONS", data=["ID"])
    )
    assert reply["data"]["userSubscription"] == {
        "ok": True,
        "error": None,
        "stream": "users",
        "operation": "SUBSCRIBE",
        "action": "ALL_ACTIONS",
    }
    assert socket.recv() == {
        "action": "all_actions",
        "operation": "subscribe",
        "ok": True,
        "stream": "users",
        "error": None,
    }
    pk = create_user(server, unique())
    update_user(server, pk, firstName="x")
    delete_user(server, pk)
    assert [socket.recv() for _ in range(3)] == [
        {"stream": "users", "payload": {"action": action, "model": "auth.user", "data": {"id": pk}}}
        for action in ("create", "update", "delete")
    ]


def test_all_actions_with_id_means_that_objects_update_and_delete(server, socket):
    pk = create_user(server, unique())
    other = create_user(server, unique())
    subscribe(server, socket, action="ALL_ACTIONS", id=pk, data=["ID", "FIRST_NAME"])
    update_user(server, other, firstName="not followed")
    update_user(server, pk, firstName="followed")
    delete_user(server, pk)
    assert socket.recv() == {
        "stream": "users",
        "payload": {"action": "update", "model": "auth.user", "data": {"id": pk, "first_name": "followed"}},
    }
    assert socket.recv() == {
        "stream": "users",
        "payload": {"action": "delete", "model": "auth.user", "data": {"id": pk, "first_name": "followed"}},
    }
    assert_nothing_more(socket)


def test_unsubscribe_replies_confirms_and_stops_notifications(server, socket):
    pk = create_user(server, unique())
    subscribe(server, socket, action="UPDATE", id=pk)
    subscribe(server, socket, field="groupSubscription", action="CREATE")
    reply = graphql(
        server, subscription_request("userSubscription", socket.channel_id, operation="UNSUBSCRIBE", id=pk)
    )
    assert reply == {
        "data": {
            "userSubscription": {
                "ok": True,
                "error": None,
                "stream": "users",
                "operation": "UNSUBSCRIBE",
                "action": "UPDATE",
            }
        }
    }
    assert socket.recv() == {
        "action": "update",
        "operation": "unsubscribe",
        "ok": True,
        "stream": "users",
        "error": None,
    }
    update_user(server, pk, firstName="unheard")
    group = unique("g")
    gid = create_group(server, group)
    # The next frame is the group's creation: the update was not sent.
    assert socket.recv() == {
        "stream": "groups",
        "payload": {"action": "create", "model": "auth.group", "data": {"id": gid, "name": group}},
    }
    assert_nothing_more(socket)


def test_unsubscribe_reads_the_id_as_subscribe_does(server, socket):
    pk = create_user(server, unique())
    subscribe(server, socket, action="UPDATE", id=f"0{pk}")
    reply = graphql(
        server,
        subscription_request("userSubscription", socket.channel_id, operation="UNSUBSCRIBE", id=f"0{pk}"),
    )
    assert reply["data"]["userSubscription"] == {
        "ok": True,
        "error": None,
        "stream": "users",
        "operation": "UNSUBSCRIBE",
        "action": "UPDATE",
    }
    assert socket.recv() == {
        "action": "update",
        "operation": "unsubscribe",
        "ok": True,
        "stream": "users",
        "error": None,
    }
    update_user(server, pk, firstName="unheard")
    assert_nothing_more(socket)


def test_socket_subscribe_and_unsubscribe_are_answered_in_the_stream_envelope(server, socket):
    pk = create_user(server, unique())
    socket.send(
        {
            "stream": "users",
            "payload": {
                "action": "subscribe",
                "pk": pk,
                "data": {"action": "update", "fields": ["username"]},
                "request_id": "r1",
            },
        }
    )
    assert socket.recv() == {
        "stream": "users",
        "payload": {
            "action": "subscribe",
            "data": {"action": "update"},
            "errors": [],
            "response_status": 200,
            "request_id": "r1",
        },
    }
    update_user(server, pk, username="renamed" + str(pk))
    assert socket.recv() == {
        "stream": "users",
        "payload": {"action": "update", "model": "auth.user", "data": {"username": f"renamed{pk}"}},
    }
    socket.send(
        {
            "stream": "users",
            "payload": {"action": "unsubscribe", "pk": pk, "data": {"action": "update"}, "request_id": "r2"},
        }
    )
    assert socket.recv() == {
        "stream": "users",
        "payload": {
            "action": "unsubscribe",
            "data": {"action": "update"},
            "errors": [],
            "response_status": 200,
            "request_id": "r2",
        },
    }
    update_user(server, pk, firstName="unheard")
    assert_nothing_more(socket)


def socket_request(operation, pk, request_id, action="update"):
    return {
        "stream": "users",
        "payload": {"action": operation, "pk": pk, "data": {"action": action}, "request_id": request_id},
    }


def socket_reply(operation, request_id, action="update"):
    return {
        "stream": "users",
        "payload": {
            "action": operation,
            "data": {"action": action},
            "errors": [],
            "response_status": 200,
            "request_id": request_id,
        },
    }


@pytest.mark.parametrize("via", ["socket", "http"])
def test_an_unsubscribe_stops_that_sockets_notifications_only(server, socket, via):
    other = Socket(server)
    try:
        name = unique()
        pk = create_user(server, name)
        for sock in (socket, other):
            sock.send(socket_request("subscribe", pk, "s"))
            assert sock.recv() == socket_reply("subscribe", "s")
        if via == "socket":
            socket.send(socket_request("unsubscribe", pk, "u"))
            assert socket.recv() == socket_reply("unsubscribe", "u")
        else:
            subscribe(server, socket, operation="UNSUBSCRIBE", id=pk)
        update_user(server, pk, firstName="after")
        # The other socket keeps the group alive: only leaving it stops this one.
        assert other.recv() == {
            "stream": "users",
            "payload": {
                "action": "update",
                "model": "auth.user",
                "data": user_data(pk, name, first_name="after"),
            },
        }
        assert_nothing_more(socket, other)
    finally:
        other.close()


def test_subscribing_again_replaces_the_field_selection(server, socket):
    pk = create_user(server, unique())
    subscribe(server, socket, id=pk, data=["ID"])
    subscribe(server, socket, id=pk, data=["LAST_NAME"])
    update_user(server, pk, lastName="new")
    assert socket.recv()["payload"]["data"] == {"last_name": "new"}
    update_user(server, pk, firstName="again")
    assert socket.recv()["payload"]["data"] == {"last_name": "new"}
    assert_nothing_more(socket)  # the first selection's group was left: no {"id": ...} copies


def test_no_data_argument_sends_every_serializer_field(server, socket):
    pk = create_user(server, unique())
    subscribe(server, socket, id=pk)
    update_user(server, pk, lastName="all")
    assert tuple(socket.recv()["payload"]["data"]) == ALL_USER_FIELDS
