"""Bad input: the error a person reads, nothing half-done, and the server keeps serving."""

import json

import pytest
import requests

from support.client import (
    create_user,
    graphql,
    still_served,
    subscription_request,
    unique,
)


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


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"id": "7" * 300}, "id is 300 characters long; ids of up to 255 characters are read."),
        (
            {"data": []},
            "The field list is empty: name the fields of stream 'users' you want, or leave the list out for all of them.",
        ),
        ({"data": ["ID", "ID"]}, "Field 'id' is listed twice: name each field once."),
    ],
    ids=["long-id", "empty-data-list", "repeated-data-field"],
)
def test_bad_arguments_over_http_are_refused_and_the_server_keeps_serving(server, socket, kwargs, error):
    refused(server, socket, error, **kwargs)
    still_served(server, socket)


def test_a_channel_id_far_too_long_is_refused_without_being_echoed(server, socket):
    channel_id = "x" * 600
    reply = graphql(server, subscription_request("userSubscription", channel_id))
    assert reply["data"]["userSubscription"]["error"] == (
        f"channelId '{'x' * 40}'… (600 characters) was not issued by this server: use the channel_id your "
        "socket received in its connect frame."
    )
    still_served(server, socket)


def test_a_truncated_channel_id_is_refused(server, socket):
    truncated = socket.channel_id[:-3]
    reply = graphql(server, subscription_request("userSubscription", truncated))
    assert reply["data"]["userSubscription"]["error"] == (
        f"channelId {truncated[:40]!r}… ({len(truncated)} characters) was not issued by this server: use the "
        "channel_id your socket received in its connect frame."
    )
    assert socket.drain() == []  # no confirmation: nothing was subscribed
    still_served(server, socket)


def test_a_channel_id_that_is_not_text_is_refused(server, socket):
    # A variable carries what a GraphQL literal may not: a lone surrogate.
    query = (
        "subscription ($c: String!) { userSubscription(operation: SUBSCRIBE, action: UPDATE, channelId: $c) "
        "{ ok error } }"
    )
    body = {"query": query, "variables": {"c": "\ud800"}}
    reply = requests.post(f"{server.http}/graphql/", json=body, timeout=10).json()
    assert reply["data"]["userSubscription"]["error"] == (
        "channelId '\\ud800' was not issued by this server: use the channel_id your socket received in its "
        "connect frame."
    )
    still_served(server, socket)


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
    # Beyond a 64-bit integer: no database stores it (SQLite's driver raised OverflowError).
    logged = len(server.log())
    refused(
        server,
        socket,
        "Unknown id '99999999999999999999999' on stream 'users': no such object can be followed.",
        id="99999999999999999999999",
    )
    assert "Traceback" not in server.log()[logged:]
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
                "The frame is not valid JSON (at character 1).",
            ),
        ),
        (
            # Python reads NaN; JSON has none (and graphql-transport-ws refuses it too, test_graphql_ws.py).
            '{"stream": "users", "payload": {"action": "subscribe", "pk": NaN}}',
            error_frame(None, None, "The frame is not valid JSON (NaN is not a JSON value)."),
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
                None,
                None,
                "Unknown stream 'nope': this socket serves counted, filtered-articles, fragile, groups, guarded, markers, own-row, owned, staff, teams, users.",
            ),
        ),
        ({"stream": "users", "payload": [1]}, error_frame("users", None, '"payload" must be a JSON object.')),
        (
            {"stream": "users", "payload": {"action": "create", "request_id": "q"}},
            error_frame(
                "users",
                None,
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
        (
            "[" * 5000 + "]" * 5000,
            error_frame(None, None, "The frame nests JSON deeper than this server reads."),
        ),
        (
            json.dumps({"stream": "users", "payload": {"action": "subscribe", "pk": "1" * 70000}}),
            error_frame(
                None, None, "The frame is 70065 characters long; this server reads frames of up to 65536."
            ),
        ),
        (
            {"stream": "s" * 600, "payload": {}},
            error_frame(
                None,
                None,
                f"Unknown stream '{'s' * 40}'… (600 characters): this socket serves counted, filtered-articles, "
                "fragile, groups, guarded, markers, own-row, owned, staff, teams, users.",
            ),
        ),
        *[
            (
                {
                    "stream": "users",
                    "payload": {"action": "subscribe", "pk": pk, "data": {"action": "update"}},
                },
                error_frame("users", "subscribe", error),
            )
            for pk, error in [
                (True, "pk must be a string or an integer (got true)."),
                (2.5, "pk must be a string or an integer (got 2.5)."),
                ([1], "pk must be a string or an integer (got a JSON array)."),
                (10**30, "pk is too large to be an id."),
                ("\ud800", "pk holds an unpaired surrogate (a broken \\u escape): send valid text."),
                ("1" * 300, "pk is 300 characters long; ids of up to 255 characters are read."),
            ]
        ],
        (
            '{"stream": "users", "payload": {"action": "subscribe", "pk": 1e400, "data": {"action": "update"}}}',
            error_frame("users", "subscribe", "pk must be a string or an integer (got inf)."),
        ),
        (
            {"stream": "users", "payload": {"action": "subscribe", "request_id": {"a": 1}}},
            error_frame("users", None, "request_id must be a string of up to 100 characters or an integer."),
        ),
        *[
            (
                {"stream": "users", "payload": {"action": "subscribe", "data": data, "request_id": 7}},
                error_frame("users", "subscribe", error, request_id=7),
            )
            for data, error in [
                (
                    {"action": "update", "bogus": 1},
                    "Unknown key 'bogus' in data: use action, fields or filter.",
                ),
                (
                    {"action": "update", "fields": ["id", "id"]},
                    "Field 'id' is listed twice: name each field once.",
                ),
                (
                    {"action": "update", "fields": []},
                    "The field list is empty: name the fields of stream 'users' you want, "
                    "or leave the list out for all of them.",
                ),
            ]
        ],
    ],
    ids=[
        "not-json",
        "nan",
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
        "deep-nesting",
        "huge-frame",
        "long-unknown-stream",
        "pk-boolean",
        "pk-float",
        "pk-list",
        "pk-huge-integer",
        "pk-long-string",
        "pk-lone-surrogate",
        "pk-overflowing-number",
        "request-id-object",
        "unknown-data-key",
        "repeated-field",
        "empty-field-list",
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
