"""The peers' protocol scenarios that no other module covers (graphql-transport-ws, modern engine).

Each test names the scenario of graphql-ws's ``tests/server.test.ts`` (G) or
strawberry's ``tests/websockets/test_graphql_transport_ws.py`` (S) it comes
from; the tests are ours. docs/peer-scenarios.rst lists every protocol
scenario of both suites with the test that covers it here or elsewhere, and
says where and why the package answers differently.
"""

import pytest
import websocket

from support.client import TIMEOUT, assert_nothing_more, at_once, wait_for
from support.gates import Gate
from support.graphql_ws_client import WsSocket, operations_on, served
from support.reliability import abort

COUNTDOWN = "subscription { countdown(start: 500) }"


def counting(id, number):
    return {"id": id, "type": "next", "payload": {"data": {"countdown": number}}}


def until_pong(sock, payload):
    """Ping, and read up to the pong: the messages sent before the server read the ping."""
    sock.send({"type": "ping", "payload": payload})
    before = [sock.recv()]
    while before[-1] != {"type": "pong", "payload": payload}:
        before.append(sock.recv())
    return before[:-1]


def test_a_connection_init_payload_that_is_not_an_object_closes_4400(server):
    # strawberry: "test_rejects_connection_params_not_dict", "test_rejects_connection_params_with_wrong_type",
    # "test_close_twice" (the payloads "gonna fail", [], 1, "invalid value").
    payloads = ["gonna fail", [], 1, "invalid value"]

    def refused(n):
        sock = WsSocket(server, init=False)
        sock.send({"type": "connection_init", "payload": payloads[n]})
        return sock.recv_close()

    assert at_once(len(payloads), refused) == [4400] * len(payloads)
    served(server)


def test_a_subscribe_payload_may_carry_extensions(server):
    # strawberry: "test_can_send_payload_with_additional_things".
    def run(n):
        sock = WsSocket(server)
        sock.send(
            {
                "id": f"e{n}",
                "type": "subscribe",
                "payload": {"query": "{ __typename }", "extensions": {"some": "thing", "n": n}},
            }
        )
        answers = [sock.recv(), sock.recv()]
        assert_nothing_more(sock)
        sock.close()
        return answers

    assert at_once(3, run) == [
        [
            {"id": f"e{n}", "type": "next", "payload": {"data": {"__typename": "RootQuery"}}},
            {"id": f"e{n}", "type": "complete"},
        ]
        for n in range(3)
    ]


def test_incremental_delivery_is_refused_with_an_error(server):
    # strawberry: "test_incremental_delivery_frames_are_rejected": graphql-core 3.2 knows no @defer,
    # so the document is refused before anything runs, and the socket serves on.
    sock = WsSocket(server)
    sock.subscribe("d", "{ groups { id ... @defer { name } } }")
    assert sock.recv() == {
        "id": "d",
        "type": "error",
        "payload": [{"message": "Unknown directive '@defer'.", "locations": [{"line": 1, "column": 19}]}],
    }
    assert sock.execute("after", "{ __typename }") == {"__typename": "RootQuery"}
    assert_nothing_more(sock)
    sock.close()


def test_the_subprotocol_is_chosen_among_others_and_near_misses_are_closed_4406(server):
    # graphql-ws: "should only accept a Set, Array or string in handleProtocol".
    chosen = WsSocket(server, subprotocols=("almost", "graphql-transport-ws", "graphql-ws"))
    assert chosen.subprotocol == "graphql-transport-ws"
    assert chosen.execute("q", "{ __typename }") == {"__typename": "RootQuery"}
    chosen.close()
    near_misses = ["graphql-transport-wsnah", "graphql-TransPort-ws", "graphql-transport-ws-x, nah"]

    def refused(n):
        # By hand: websocket-client itself refuses a handshake that picks none of its protocols.
        sock = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/graphql/",
            timeout=TIMEOUT,
            header=[f"Sec-WebSocket-Protocol: {near_misses[n]}"],
        )
        frame = sock.recv_frame()
        return frame.opcode, int.from_bytes(frame.data[:2], "big")

    assert at_once(len(near_misses), refused) == [(websocket.ABNF.OPCODE_CLOSE, 4406)] * len(near_misses)


@pytest.fixture
def ws(server):
    sock = WsSocket(server)
    yield sock
    sock.close()


def test_complete_stops_a_running_subscription_of_the_project(server):
    # graphql-ws: "should stop dispatching messages after completing a subscription";
    # strawberry: "test_subscription_cancellation" (the project's own generator, not a ChangesField).
    def run(n):
        sock = WsSocket(server)
        sock.subscribe("c", COUNTDOWN)
        assert sock.recv() == counting("c", 500)
        sock.complete("c")
        before = until_pong(sock, {"n": n})
        # What the server sent before it read the complete, then nothing for "c".
        assert before == [counting("c", 499 - k) for k in range(len(before))]
        assert_nothing_more(sock)
        assert sock.execute("c", "{ __typename }") == {"__typename": "RootQuery"}  # the id is free
        sock.close()
        return n

    assert at_once(3, run) == [0, 1, 2]


def test_an_id_in_use_by_a_running_subscription_of_the_project_closes_4409(server):
    # graphql-ws: "should close the socket on duplicate operation requests";
    # strawberry: "test_duplicated_operation_ids", "test_single_result_duplicate_ids_sub".
    def run(n):
        sock = WsSocket(server)
        sock.subscribe("same", COUNTDOWN)
        assert sock.recv() == counting("same", 500)
        sock.subscribe("same", "{ __typename }" if n % 2 else COUNTDOWN)
        return sock.recv_close()

    assert at_once(4, run) == [4409] * 4
    served(server)


def test_sockets_dropped_or_closed_while_subscriptions_run_leave_nothing(server):
    # graphql-ws: "should call `onComplete` callback even if socket terminates abruptly",
    # "should dispose of subscriptions on close even if added late to the subscriptions list";
    # strawberry: "test_unexpected_client_disconnects_are_gracefully_handled",
    # "test_shutdown_with_multiple_in_flight_operations".
    before, logged = operations_on(server), len(server.log())

    def run(n):
        sock = WsSocket(server)
        sock.subscribe("a", COUNTDOWN)
        sock.subscribe("b", COUNTDOWN)
        sock.subscribe("c", "subscription { groupChanges { action } }")
        if n % 3 == 0:
            sock.subscribe("d", "subscription { userChanges { action } }")
            until_pong(sock, {"after": "d"})  # every subscription is live
            abort(sock)  # a TCP reset: no close frame
        elif n % 3 == 1:
            sock.close()  # at once: the subscribes may not all be served yet
        else:
            assert sock.recv()["type"] == "next"
            abort(sock)
        return n

    assert at_once(6, run) == list(range(6))
    wait_for(lambda: operations_on(server) <= before)
    served(server)
    log = server.log()[logged:]
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def slow_init_server(limited_server):
    return limited_server("peer-slow-init", CONNECTION_INIT_WAIT_SECONDS=0.5)


def test_an_init_whose_authentication_outlasts_the_wait_is_acknowledged(slow_init_server):
    # graphql-ws: "should not close the socket after the `connectionInitWaitTimeout` has passed but
    # the callback is still resolving". The route's authenticate takes 1.5 s; the wait is 0.5 s.
    def run(n):
        sock = WsSocket(slow_init_server, path="/graphql-slow-to-authenticate/", init=False)
        sock.send({"type": "connection_init"})
        assert sock.recv() == {"type": "connection_ack"}
        assert sock.execute(f"q{n}", "{ __typename }") == {"__typename": "RootQuery"}
        sock.close()
        return n

    assert at_once(3, run) == [0, 1, 2]
    late = WsSocket(slow_init_server, path="/graphql-slow-to-authenticate/", init=False)
    assert late.recv_close() == 4408  # the wait itself still holds


def test_a_subscription_completed_before_its_first_event_sends_nothing(ws):
    # graphql-ws: "should respect completed subscriptions even if subscribe operation stalls".
    gates = [Gate() for _ in range(3)]
    for n, gate in enumerate(gates):
        ws.subscribe(f"g{n}", gate.subscription)
    wait_for(lambda: all(gate.started() for gate in gates))
    for n in range(len(gates)):
        ws.complete(f"g{n}")
    assert until_pong(ws, {"after": "complete"}) == []
    for gate in gates:
        gate.open()
        gate.open("-finally")
    wait_for(lambda: all(gate.ended() for gate in gates))
    assert_nothing_more(ws)


def test_a_subscription_slow_to_end_holds_up_nothing(server, ws):
    # strawberry: "test_subsciption_cancel_finalization_delay"; graphql-ws: "should dispose of all
    # subscriptions on close even if some return is problematic".
    slow = Gate()
    ws.subscribe("slow", slow.subscription)
    wait_for(slow.started)
    slow.open()
    assert ws.recv() == {"id": "slow", "type": "next", "payload": {"data": {"gated": slow.key}}}
    wait_for(lambda: slow.started("-finally"))  # its generator runs its end, which waits at a gate
    assert ws.execute("q", "{ __typename }") == {"__typename": "RootQuery"}  # the socket serves on
    assert until_pong(ws, {"after": "event"}) == []  # complete once the generator has ended, not before
    slow.open("-finally")
    assert ws.recv() == {"id": "slow", "type": "complete"}
    # Completed by the client while they wait: their ends wait at gates, the next answer does not.
    completed = [Gate(), Gate()]
    for n, gate in enumerate(completed):
        ws.subscribe(f"c{n}", gate.subscription)
    wait_for(lambda: all(gate.started() for gate in completed))
    for n in range(len(completed)):
        ws.complete(f"c{n}")
    wait_for(lambda: all(gate.started("-finally") for gate in completed))
    assert ws.execute("after", "{ __typename }") == {"__typename": "RootQuery"}
    # Closed while two wait: both are ended, neither waits for the other.
    closing = WsSocket(server)
    pair = [Gate(), Gate()]
    for n, gate in enumerate(pair):
        closing.subscribe(f"p{n}", gate.subscription)
    wait_for(lambda: all(gate.started() for gate in pair))
    closing.close()
    wait_for(lambda: all(gate.started("-finally") for gate in pair))
    for gate in [*completed, *pair]:
        assert not gate.ended()
        gate.open("-finally")
    wait_for(lambda: all(gate.ended() for gate in [slow, *completed, *pair]))
    assert_nothing_more(ws)


def test_an_error_in_one_event_comes_with_it_and_the_events_go_on(ws):
    # strawberry: "test_subscription_errors", "test_subscription_errors_continue".
    for id in ("s1", "s2"):
        ws.subscribe(id, "subscription { shaky }")
    received = [ws.recv() for _ in range(8)]
    for id in ("s1", "s2"):
        assert [message for message in received if message["id"] == id] == [
            {"id": id, "type": "next", "payload": {"data": {"shaky": 1}}},
            {
                "id": id,
                "type": "next",
                "payload": {
                    "data": {"shaky": None},
                    "errors": [
                        {
                            "message": "Int cannot represent non-integer value: 'not a number'",
                            "locations": [{"line": 1, "column": 16}],
                            "path": ["shaky"],
                        }
                    ],
                },
            },
            {"id": id, "type": "next", "payload": {"data": {"shaky": 3}}},
            {"id": id, "type": "complete"},
        ]
    assert_nothing_more(ws)


def test_async_raising_and_unencodable_resolvers_each_answer_their_operation(server, ws):
    # strawberry: "test_single_result_query_operation_async", "test_single_result_execution_error";
    # graphql-ws: "should clean up subscription reservations on abrupt errors without relying on close".
    ws.subscribe("async", "{ later }")
    ws.subscribe("raises", "{ alwaysFails }")
    ws.subscribe("set", "{ unencodable }")
    received = [ws.recv() for _ in range(5)]
    by_id = {
        id: [message for message in received if message["id"] == id] for id in ("async", "raises", "set")
    }
    assert by_id == {
        "async": [
            {"id": "async", "type": "next", "payload": {"data": {"later": "later"}}},
            {"id": "async", "type": "complete"},
        ],
        "raises": [
            {
                "id": "raises",
                "type": "next",
                "payload": {
                    "data": {"alwaysFails": None},
                    "errors": [
                        {
                            "message": "This field always fails.",
                            "locations": [{"line": 1, "column": 3}],
                            "path": ["alwaysFails"],
                        }
                    ],
                },
            },
            {"id": "raises", "type": "complete"},
        ],
        "set": [
            {
                "id": "set",
                "type": "error",
                "payload": [
                    {"message": "The server could not encode the result of operation 'set'; it is ended."}
                ],
            }
        ],
    }
    assert ws.execute("set", "{ __typename }") == {"__typename": "RootQuery"}  # its id is free
    assert_nothing_more(ws)


TWO_QUERIES = "query First { __typename } query Second { groups { id } }"
TWO_SUBSCRIPTIONS = "subscription First { countdown(start: 1) } subscription Second { countdown(start: 2) }"
FRAGMENT_ONLY = "fragment Fragment1 on RootQuery { __typename }"


@pytest.mark.parametrize(
    "query, name, answers",
    [
        # strawberry: "test_operation_selection", "test_single_result_operation_selection".
        (TWO_QUERIES, "First", [{"type": "next", "payload": {"data": {"__typename": "RootQuery"}}}]),
        (TWO_SUBSCRIPTIONS, "Second", [counting(None, n) for n in (2, 1, 0)]),
        # strawberry runs the first operation here; the GraphQL spec and graphql-ws refuse.
        (TWO_QUERIES, None, ["Must provide operation name if query contains multiple operations."]),
        (TWO_SUBSCRIPTIONS, None, ["Must provide operation name if query contains multiple operations."]),
        # strawberry: "test_invalid_operation_selection", "test_single_result_invalid_operation_selection"
        # (strawberry closes the socket with 4400; an error message keeps it serving, as in graphql-ws).
        ("query First { __typename }", "Second", ["Unknown operation named 'Second'."]),
        ("query First { __typename }", "", ["Unknown operation named ''."]),
        ("subscription First { countdown(start: 1) }", "", ["Unknown operation named ''."]),
        # strawberry: "test_operation_selection_without_operations",
        # "test_single_result_operation_selection_without_operations" (strawberry: 4400).
        (
            FRAGMENT_ONLY,
            None,
            [{"message": "Fragment 'Fragment1' is never used.", "locations": [{"line": 1, "column": 1}]}],
        ),
    ],
)
def test_the_operation_is_chosen_by_name_or_refused_with_an_error(ws, query, name, answers):
    ws.subscribe("op", query, operation_name=name)
    if all(isinstance(answer, dict) and "type" in answer for answer in answers):
        expected = [dict(answer, id="op") for answer in answers] + [{"id": "op", "type": "complete"}]
    else:
        errors = [{"message": answer} if isinstance(answer, str) else answer for answer in answers]
        expected = [{"id": "op", "type": "error", "payload": errors}]
    assert [ws.recv() for _ in expected] == expected
    assert ws.execute("op", "{ __typename }") == {"__typename": "RootQuery"}  # the socket serves on
    assert_nothing_more(ws)
