"""Property-based fuzzing of graphql-transport-ws messages (modern engine; see conftest.py).

Whatever a client sends once acknowledged, the server either answers with the
protocol's own messages (for that operation's id) or closes the socket with the
code the protocol names for the fault, never with a server error; nothing is
logged as a crash, the server serves everyone else, and a closed socket leaves
no subscription behind.
"""

import json

import pytest
import websocket
from hypothesis import given
from hypothesis import strategies as st

from support.client import TIMEOUT, wait_for
from support.graphql_ws_client import WsSocket, operations_on, served
from test_fuzz import FUZZ, json_values

QUERIES = [
    "subscription { groupChanges { action data { id name } } }",
    'subscription { userChanges(action: UPDATE, id: "1") { stream model data { username email } } }',
    "subscription ($id: ID) { staffChanges(id: $id) { __typename action } }",
    "subscription { ownedChanges(action: CREATE) { data { viewer } } }",
    "subscription { guardedChanges { action } }",
    "subscription { groupChanges { data { nope } } }",
    "subscription { groupChanges { action } userChanges { action } }",
    "{ groups { id name } }",
    "query Named { users { username } }",
    "{ __schema { types { name } } }",
    "subscription {",
]
#: The close codes a message may earn once the socket is acknowledged.
FAULT_CODES = {4400, 4409, 4429}

payloads = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"query": st.sampled_from(QUERIES) | st.text(max_size=60) | json_values},
        optional={
            "variables": json_values | st.fixed_dictionaries({"id": json_values}),
            "operationName": st.sampled_from(["Named", "Other"]) | json_values,
            "extensions": json_values,
        },
    ),
)
structured = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["connection_init", "ping", "pong", "subscribe", "complete", "next", "error"])
        | json_values
    },
    optional={"id": st.sampled_from(["1", "2"]) | st.text(max_size=120) | json_values, "payload": payloads},
).map(json.dumps)
messages = st.one_of(
    structured,
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.integers(1, 3000).map(lambda depth: '{"type": "ping", "payload": ' + "[" * depth + "]" * depth + "}"),
)


@pytest.fixture(scope="module")
def fuzzed(limited_server):
    return limited_server(
        "graphql-ws-fuzz",
        MAX_REQUESTS_PER_SOCKET_PER_SECOND=100000,
        MAX_REFUSALS_PER_SOCKET_PER_SECOND=100000,
    )


def answers_to(sock, ping=True):
    """What the server sends before the pong of a ping sent next, and its close code if it closes instead.

    ``ping=False`` sends no ping: for a message the server closes the socket for, read until the close.
    """
    if ping:
        try:
            sock.send({"type": "ping", "payload": {"fuzz": "end"}})
        except websocket.WebSocketConnectionClosedException:
            pass  # closed already: its close frame is still to be read
    frames = []
    sock.conn.settimeout(TIMEOUT)
    while True:
        frame = sock.conn.recv_frame()
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            return frames, int.from_bytes(frame.data[:2], "big")
        if frame.opcode != websocket.ABNF.OPCODE_TEXT:
            continue
        message = json.loads(frame.data)
        if message == {"type": "pong", "payload": {"fuzz": "end"}}:
            return frames, None
        frames.append(message)


def test_any_message_gets_a_protocol_answer_or_the_protocols_close(fuzzed):
    before = operations_on(fuzzed)

    @FUZZ
    @given(message=messages)
    def one_message(message):
        sock = WsSocket(fuzzed)
        try:
            sock.send(message)
            try:
                frames, closed = answers_to(sock)
            except ConnectionResetError:
                # The server closed the socket before the ping reached it, and the ping's reset lost
                # the close frame: send the message again, and only read.
                sock.close()
                sock = WsSocket(fuzzed)
                sock.send(message)
                frames, closed = answers_to(sock, ping=False)
            if closed is not None:
                assert closed in FAULT_CODES, (message, closed)
                return
            sent = json.loads(message)
            for frame in frames:
                if frame.get("type") == "pong":  # the fuzzed message was a ping
                    assert sent.get("type") == "ping", (message, frame)
                    continue
                # Answers to a subscribe: next, error or complete, for its id, and short.
                assert frame["type"] in ("next", "error", "complete") and frame["id"] == sent["id"], (
                    message,
                    frame,
                )
                if frame["type"] == "error":
                    assert isinstance(frame["payload"], list) and frame["payload"], frame
                    assert all(isinstance(error.get("message"), str) for error in frame["payload"]), frame
        finally:
            sock.close()

    one_message()
    wait_for(lambda: operations_on(fuzzed) <= before)  # closed sockets leave no subscription behind
    log = fuzzed.log()
    assert "Traceback" not in log and "Exception inside application" not in log, log[-3000:]
    served(fuzzed)
