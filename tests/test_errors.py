"""Bad input: the error a person reads, nothing half-done, and the server keeps serving."""

import json

import pytest

from client import (
    Socket,
    assert_nothing_more,
    create_group,
    create_user,
    graphql,
    subscribe,
    subscription_request,
    unique,
)


def still_served(server, socket):
    """The socket and a brand-new one both still get notifications."""
    other = Socket(server)
    try:
        for sock in (socket, other):
            subscribe(server, sock, field="groupSubscription", action="CREATE", data=["NAME"])
        name = unique("g")
        create_group(server, name)
        for sock in (socket, other):
            assert sock.recv() == {
                "stream": "groups",
                "payload": {"action": "create", "model": "auth.group", "data": {"name": name}},
            }
        # Nothing else: no second answer to a bad request, no half-made subscription.
        assert_nothing_more(socket, other)
    finally:
        other.close()


def refused(server, socket, error, **kwargs):
    kwargs.setdefault("action", "UPDATE")
    reply = graphql(server, subscription_request("userSubscription", socket.channel_id, **kwargs))
    assert reply == {
        "data": {
            "userSubscription": {
                "ok": False,
                "error": error,
                "stream": "users",
                "operation": kwargs.get("operation", "SUBSCRIBE"),
                "action": kwargs["action"],
            }
        }
    }


def test_unknown_id_is_refused(server, socket):
    refused(
        server,
        socket,
        "Unknown id '99999999' on stream 'users': no such object can be followed.",
        id=99999999,
    )
    refused(
        server,
        socket,
        "Unknown id 'abc' on stream 'users': no such object can be followed.",
        id="abc",
        action="DELETE",
    )
    still_served(server, socket)


def test_create_with_an_id_is_refused(server, socket):
    pk = create_user(server, unique())
    refused(
        server,
        socket,
        "CREATE cannot take an id on stream 'users': an object that has an id was created already. "
        "Leave id out to hear of every new object.",
        id=pk,
        action="CREATE",
    )
    still_served(server, socket)


def test_unsubscribing_what_is_not_followed_is_refused(server, socket):
    refused(
        server,
        socket,
        "Nothing to unsubscribe: this socket does not follow update of id '5' on stream 'users'.",
        operation="UNSUBSCRIBE",
        id=5,
    )


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        ('operation: SUBSCRIBE, action: UPDATE, channelId: "%s", data: [NOT_A_FIELD]', "NOT_A_FIELD"),
        ('operation: SUBSCRIBE, action: SOMETIMES, channelId: "%s"', "SOMETIMES"),
        ("operation: SUBSCRIBE, action: UPDATE", "channelId"),
    ],
    ids=["unknown-field", "unknown-action", "missing-channel-id"],
)
def test_invalid_arguments_get_graphql_errors_and_subscribe_nothing(server, socket, arguments, fragment):
    text = arguments % socket.channel_id if "%s" in arguments else arguments
    reply = graphql(server, "subscription { userSubscription(%s) { ok error } }" % text)
    assert reply.get("data") is None
    assert len(reply["errors"]) == 1 and fragment in reply["errors"][0]["message"]
    still_served(server, socket)


def error_frame(stream, action, error, status=400, request_id=None):
    return {
        "stream": stream,
        "payload": {
            "action": action,
            "data": None,
            "errors": [error],
            "response_status": status,
            "request_id": request_id,
        },
    }


@pytest.mark.parametrize(
    "frame, expected",
    [
        (
            "{not json",
            error_frame(
                None,
                None,
                "The frame is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)).",
            ),
        ),
        (
            "[1, 2]",
            error_frame(
                None,
                None,
                'A frame must be a JSON object with "stream" and "payload" keys, e.g. {"stream": "users", "payload": {"action": "subscribe", ...}}.',
            ),
        ),
        (
            {"payload": {}},
            error_frame(
                None,
                None,
                'A frame must be a JSON object with "stream" and "payload" keys, e.g. {"stream": "users", "payload": {"action": "subscribe", ...}}.',
            ),
        ),
        (
            {"stream": "nope", "payload": {}},
            error_frame(
                "nope",
                None,
                "Unknown stream 'nope': this socket serves counted, fragile, groups, guarded, own-row, owned, staff, users.",
            ),
        ),
        ({"stream": "users", "payload": [1]}, error_frame("users", None, '"payload" must be a JSON object.')),
        (
            {"stream": "users", "payload": {"action": "create", "request_id": "q"}},
            error_frame(
                "users",
                "create",
                "Unknown action 'create': use 'subscribe' or 'unsubscribe'.",
                request_id="q",
            ),
        ),
        (
            {"stream": "users", "payload": {"action": "subscribe", "request_id": "q"}},
            error_frame(
                "users",
                "subscribe",
                'data.action is required, e.g. {"action": "update"}: one of create, update, delete, all_actions.',
                request_id="q",
            ),
        ),
        (
            {"stream": "users", "payload": {"action": "subscribe", "data": {"action": "sometimes"}}},
            error_frame(
                "users",
                "subscribe",
                "Unknown action 'sometimes': use one of create, update, delete, all_actions.",
            ),
        ),
        (
            {
                "stream": "users",
                "payload": {"action": "subscribe", "data": {"action": "update", "fields": ["password"]}},
            },
            error_frame(
                "users",
                "subscribe",
                "Unknown field 'password' for stream 'users': choose from id, username, first_name, last_name, email.",
            ),
        ),
        (
            {
                "stream": "users",
                "payload": {"action": "subscribe", "data": {"action": "update", "fields": "id"}},
            },
            error_frame(
                "users", "subscribe", 'data.fields must be a list of field names, e.g. ["id", "username"].'
            ),
        ),
        (
            {
                "stream": "users",
                "payload": {"action": "subscribe", "pk": 99999999, "data": {"action": "update"}},
            },
            error_frame(
                "users",
                "subscribe",
                "Unknown id 99999999 on stream 'users': no such object can be followed.",
                status=404,
            ),
        ),
        (
            {"stream": "guarded", "payload": {"action": "subscribe", "data": {"action": "update"}}},
            error_frame(
                "guarded",
                "subscribe",
                "Permission denied: log in to subscribe to update on stream 'guarded'.",
                status=403,
            ),
        ),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-stream",
        "unknown-stream",
        "payload-not-object",
        "unknown-action",
        "no-data-action",
        "unknown-data-action",
        "unknown-field",
        "fields-not-a-list",
        "unknown-id",
        "permission-denied",
    ],
)
def test_bad_socket_frames_get_an_error_frame_and_the_socket_stays_usable(server, socket, frame, expected):
    socket.send(frame if isinstance(frame, str) else json.dumps(frame))
    assert socket.recv() == expected
    still_served(server, socket)


def test_binary_frames_get_an_error_frame(server, socket):
    socket.conn.send_binary(b"\x00\x01")
    assert socket.recv() == error_frame(None, None, "Binary frames are not supported: send JSON text.")
    still_served(server, socket)
