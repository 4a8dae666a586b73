"""Both protocols' parsers and the id check, in process (no server): what each input reads as, and
the sentence or close code a bad one gets. The servers' answers are pinned in test_errors and
test_graphql_ws; these pin the parsing itself, fast enough to try every corner."""

import json

import pytest

from graphene_django_subscriptions.close_codes import CloseCode
from graphene_django_subscriptions.protocols import channels_api, common
from graphene_django_subscriptions.protocols import graphql_transport_ws as ws

STREAMS = ("groups", "users")


def frame_error(text):
    """The error sentences ``text`` gets as a 2018 frame, and the stream its answer names."""
    with pytest.raises(channels_api.FrameError) as caught:
        channels_api.parse_frame(text, STREAMS)
    return caught.value.frame["payload"]["errors"], caught.value.frame["stream"]


def test_a_2018_request_reads_as_its_stream_operation_id_data_and_request_id():
    text = json.dumps(
        {
            "stream": "users",
            "payload": {"action": "subscribe", "pk": 5, "data": {"action": "update"}, "request_id": "r1"},
        }
    )
    request = channels_api.parse_frame(text, STREAMS)
    assert (request.stream, request.operation, request.pk, request.data, request.request_id) == (
        "users",
        "subscribe",
        5,
        {"action": "update"},
        "r1",
    )


@pytest.mark.parametrize(
    "text, errors, stream",
    [
        (None, ["Binary frames are not supported: send JSON text."], None),
        ("{", ["The frame is not valid JSON (at character 1)."], None),
        ('{"stream": NaN}', ["The frame is not valid JSON (NaN is not a JSON value)."], None),
        ("[" * 60000, ["The frame nests JSON deeper than this server reads."], None),
        (
            "[]",
            [
                'A frame must be a JSON object with "stream" and "payload" keys, '
                'e.g. {"stream": "users", "payload": {"action": "subscribe", ...}}.'
            ],
            None,
        ),
        (
            '{"stream": "nope", "payload": {}}',
            ["Unknown stream 'nope': this socket serves groups, users."],
            None,
        ),
        ('{"stream": "users", "payload": []}', ['"payload" must be a JSON object.'], "users"),
        (
            '{"stream": "users", "payload": {"action": "drop"}}',
            ["Unknown action 'drop': use 'subscribe' or 'unsubscribe'."],
            "users",
        ),
        (
            '{"stream": "users", "payload": {"action": "subscribe", "data": {"nope": 1}}}',
            ["Unknown key 'nope' in data: use action, fields or filter."],
            "users",
        ),
        (
            '{"stream": "users", "payload": {"action": "subscribe", "pk": true}}',
            ["pk must be a string or an integer (got true)."],
            "users",
        ),
    ],
    ids=[
        "binary",
        "not-json",
        "nan",
        "too-deep",
        "not-an-object",
        "unknown-stream",
        "payload",
        "action",
        "data-key",
        "pk",
    ],  # fmt: skip
)
def test_a_bad_2018_frame_gets_one_sentence_and_names_only_a_known_stream(text, errors, stream):
    assert frame_error(text) == (errors, stream)


@pytest.mark.parametrize(
    "pk, problem",
    [
        (None, None),
        (5, None),
        ("05", None),
        (2**63, "is too large to be an id."),
        ("x" * 256, "is 256 characters long; ids of up to 255 characters are read."),
        ("\ud800", "holds an unpaired surrogate (a broken \\u escape): send valid text."),
        (2.5, "must be a string or an integer (got 2.5)."),
        (False, "must be a string or an integer (got false)."),
    ],
)
def test_an_id_is_a_string_or_an_integer_an_id_can_be(pk, problem):
    assert common.id_problem(pk) == problem


def test_a_standard_message_reads_as_its_type_id_and_payload():
    message = ws.parse(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ a }"}}))
    assert (message.type, message.id, message.payload) == ("subscribe", "1", {"query": "{ a }"})
    ping = ws.parse('{"type": "ping", "payload": {"n": 1}}')
    assert (ping.type, ping.id, ping.payload) == ("ping", None, {"n": 1})


@pytest.mark.parametrize(
    "text, reason",
    [
        (None, "Binary messages are not part of graphql-transport-ws: send JSON text."),
        ("nope", "Invalid message: it is not JSON text."),
        ('{"type": "ping", "payload": {"n": Infinity}}', "Invalid message: it is not JSON text."),
        ("[]", "Invalid message: expected a JSON object with a 'type'."),
        ('{"type": "next"}', "Invalid message 'type' property 'next'."),
        (
            '{"type": "subscribe", "payload": {"query": "{ a }"}}',
            "\"subscribe\" message requires a non-empty string 'id' property.",
        ),
        ('{"type": "complete", "id": ""}', "\"complete\" message requires a non-empty string 'id' property."),
        (
            '{"type": "subscribe", "id": "1", "payload": {}}',
            "\"subscribe\" message payload expects the 'query' property to be a string.",
        ),
        (
            '{"type": "subscribe", "id": "1", "payload": {"query": "{ a }", "variables": []}}',
            "\"subscribe\" message payload expects the 'variables' property to be an object or null.",
        ),
        (
            '{"type": "ping", "payload": 1}',
            "\"ping\" message expects the 'payload' property to be an object or missing.",
        ),
    ],
    ids=[
        "binary",
        "not-json",
        "infinity",
        "not-an-object",
        "server-type",
        "subscribe-id",
        "complete-id",
        "query",
        "variables",
        "ping-payload",
    ],  # fmt: skip
)
def test_a_message_that_breaks_the_standard_protocol_closes_with_4400_and_its_reason(text, reason):
    with pytest.raises(ws.BadMessage) as caught:
        ws.parse(text)
    assert (caught.value.code, str(caught.value)) == (CloseCode.BAD_REQUEST, reason)
