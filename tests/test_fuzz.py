"""Property-based fuzzing of what clients send: socket frames and subscription arguments.

Whatever arrives, the server answers it with a reply of the protocol (never a
server error), the socket stays open, nothing is logged as a crash, and the
socket's rows go when it closes.
"""

import json
import os

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.client import TIMEOUT, Socket, still_served, wait_for
from support.leftovers import recorded

STREAMS = ["users", "groups", "guarded", "owned", "own-row", "staff", "counted", "fragile"]
ACTIONS = ["create", "update", "delete", "all_actions"]
FIELDS = ["id", "username", "first_name", "last_name", "email"]
REPLY_STATUSES = {200, 400, 403, 404, 429}
#: Examples per fuzz test; benchmarks/reliability.py asks for more.
EXAMPLES = int(os.environ.get("GDS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(st.none(), st.integers(-(2**70), 2**70), st.text(max_size=300), json_values)
requests_data = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"action": st.sampled_from(ACTIONS) | json_values},
        optional={
            "fields": st.lists(st.sampled_from(FIELDS) | st.text(max_size=10), max_size=6) | json_values,
            "extra": json_values,
        },
    ),
)
structured_frames = st.fixed_dictionaries(
    {
        "stream": st.sampled_from(STREAMS) | st.text(max_size=50) | json_values,
        "payload": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"action": st.sampled_from(["subscribe", "unsubscribe"]) | json_values},
                optional={"pk": ids, "data": requests_data, "request_id": json_values},
            ),
        ),
    }
).map(json.dumps)
frames = st.one_of(
    structured_frames,
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth),
)


@pytest.fixture(scope="module")
def fuzzed(limited_server):
    """A server whose per-socket limits the fuzzing would otherwise reach at once."""
    return limited_server(
        "fuzz", MAX_REQUESTS_PER_SOCKET_PER_SECOND=100000, MAX_REFUSALS_PER_SOCKET_PER_SECOND=100000
    )


def still_answers(server, sock):
    """The fuzzed socket still answers, and a new socket is served as usual.

    (The fuzzed one may follow anything by now, so it is not asked to hear one change alone.)
    """
    sock.send("{")
    assert sock.recv()["payload"]["errors"] == ["The frame is not valid JSON (at character 1)."]
    fresh = Socket(server)
    try:
        still_served(server, fresh)
    finally:
        fresh.close()


def fuzz_and_check(server, sock, fuzz):
    """Run ``fuzz`` on ``sock``; then the socket still answers, its rows go when it closes, nothing crashed."""
    try:
        fuzz()
        still_answers(server, sock)
    finally:
        sock.close()
    wait_for(lambda: recorded(server.env, [sock]) == [0, 0])
    log = server.log()
    assert "Traceback" not in log and "Exception inside application" not in log, log[-3000:]


def test_any_socket_frame_gets_a_protocol_reply_and_the_socket_keeps_serving(fuzzed):
    sock = Socket(fuzzed)

    @FUZZ
    @given(frame=frames)
    def one_frame(frame):
        sock.send(frame)
        reply = sock.recv()
        assert set(reply) == {"stream", "payload"}, reply
        payload = reply["payload"]
        assert set(payload) == {"action", "data", "errors", "response_status", "request_id"}, reply
        assert payload["response_status"] in REPLY_STATUSES, reply
        assert isinstance(payload["errors"], list) and all(isinstance(e, str) for e in payload["errors"])
        assert len(json.dumps(reply)) < 1000  # nothing the client sent is echoed at length
        assert sock.drain(0.01) == []  # one reply per frame

    fuzz_and_check(fuzzed, sock, one_frame)


SUBSCRIBE = """
subscription ($operation: OperationSubscriptionEnum!, $action: ActionSubscriptionEnum!, $channelId: String!,
              $id: ID, $data: [UserSubscriptionFields!]) {
  userSubscription(operation: $operation, action: $action, channelId: $channelId, id: $id, data: $data) {
    ok error stream operation action
  }
}
"""


def test_any_subscription_arguments_get_an_answer_and_never_a_server_error(fuzzed):
    sock = Socket(fuzzed)
    session = requests.Session()
    channel_ids = st.one_of(
        st.just(sock.channel_id),
        st.integers(0, len(sock.channel_id)).map(lambda n: sock.channel_id[:n]),
        st.text(max_size=600),
        json_values,
    )
    variables = st.fixed_dictionaries(
        {
            "operation": st.sampled_from(["SUBSCRIBE", "UNSUBSCRIBE"]) | json_values,
            "action": st.sampled_from([a.upper() for a in ACTIONS]) | json_values,
            "channelId": channel_ids,
        },
        optional={
            "id": ids,
            "data": st.lists(st.sampled_from([f.upper() for f in FIELDS]), max_size=6) | json_values,
        },
    )

    @FUZZ
    @given(values=variables)
    def one_request(values):
        response = session.post(
            f"{fuzzed.http}/graphql/", json={"query": SUBSCRIBE, "variables": values}, timeout=TIMEOUT
        )
        assert response.status_code in (200, 400), response.text
        reply = response.json()
        result = (reply.get("data") or {}).get("userSubscription")
        if result is None:
            assert reply["errors"], reply  # a GraphQL error: the arguments did not fit the schema
            return
        assert isinstance(result["ok"], bool) and (result["error"] is None) == result["ok"], result
        if result["ok"]:
            confirmation = sock.recv()
            assert confirmation["ok"] is True and confirmation["stream"] == "users", confirmation
        else:
            assert len(result["error"]) < 400, result
        assert sock.drain(0.01) == []

    fuzz_and_check(fuzzed, sock, one_request)
