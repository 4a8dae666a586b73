"""Operations side by side (graphql-transport-ws): a running query holds up no message, no socket, no other query.

The scenarios come from graphql-ws's ``tests/server.test.ts`` and strawberry's
``tests/websockets/test_graphql_transport_ws.py`` (each test names its
source); the tests are ours. A ``held`` query (tests/testproject/schema.py)
runs until its test opens its gate, so "while a query runs" is a fact here,
not a guess about timing.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.client import assert_nothing_more, wait_for
from support.gates import Gate
from support.graphql_ws_client import WsSocket

#: The limits of the server of this module.
RUNNING, WAITING = 2, 2


@pytest.fixture(scope="module")
def server(limited_server):
    return limited_server(
        "side-by-side", MAX_RUNNING_OPERATIONS_PER_SOCKET=RUNNING, MAX_WAITING_OPERATIONS_PER_SOCKET=WAITING
    )


@pytest.fixture
def sockets(server):
    made = []

    def make():
        made.append(WsSocket(server))
        return made[-1]

    yield make
    for sock in made:
        sock.close()


def ping(sock, payload):
    sock.send({"type": "ping", "payload": payload})
    assert sock.recv() == {"type": "pong", "payload": payload}


def three_held(sockets, id):
    """Three sockets, each running a held query under ``id``; the sockets and their gates, once all started."""
    socks = [sockets() for _ in range(3)]
    gates = [Gate() for _ in socks]
    for sock, gate in zip(socks, gates):
        sock.subscribe(id, gate.query)
    wait_for(lambda: all(gate.started() for gate in gates))
    return socks, gates


def groups_query(sock, id):
    sock.subscribe(id, "{ groups { id } }")
    assert sock.recv()["id"] == id
    assert sock.recv() == {"id": id, "type": "complete"}


def test_while_queries_run_their_sockets_and_every_other_socket_are_served(sockets):
    # No peer test: the issue's own finding (a ping waited 2.7 s for another socket's query).
    held, gates = three_held(sockets, "slow")
    others = [sockets() for _ in range(3)]

    def served_meanwhile(n):
        # Each socket, held ones included, pings and runs a query while the held queries run.
        sock = (held + others)[n]
        ping(sock, {"n": n})
        groups_query(sock, f"quick-{n}")
        return n

    with ThreadPoolExecutor(len(held + others)) as pool:
        assert sorted(pool.map(served_meanwhile, range(6))) == list(range(6))
    assert not any(gate.opened() for gate in gates)
    for sock, gate in zip(held, gates):
        gate.open()
        assert [sock.recv(), sock.recv()] == [gate.result("slow"), {"id": "slow", "type": "complete"}]
    assert_nothing_more(*held, *others)


def test_a_query_completed_by_the_client_sends_nothing_more_and_its_id_is_free(sockets):
    # graphql-ws: "should be able to complete a long running query before the result becomes
    # available"; strawberry: "test_subscription_cancellation" (a query here, not a subscription).
    socks, gates = three_held(sockets, "q")
    for sock in socks:
        sock.complete("q")
        ping(sock, {"completed": True})  # the complete was read while the query ran
    for gate in gates:
        gate.open()
    for sock in socks:
        assert_nothing_more(sock)
        groups_query(sock, "q")  # the id is free again


def test_an_id_in_use_by_a_running_query_closes_the_socket_with_4409_at_once(sockets):
    # graphql-ws: "should close the socket on duplicate operation requests";
    # strawberry: "test_duplicated_operation_ids".
    socks, gates = three_held(sockets, "same")
    for sock in socks:
        sock.subscribe("same", "{ groups { id } }")
    assert [sock.recv_close() for sock in socks] == [4409] * 3
    for gate in gates:
        gate.open()  # still held when the sockets closed: the close did not wait for them


def test_overlapping_queries_answer_as_they_finish_not_as_they_started(sockets):
    # strawberry: "test_single_result_query_operation_overlapped" (order by completion).
    sock = sockets()
    first, second = Gate(), Gate()
    sock.subscribe("first", first.query)
    sock.subscribe("second", second.query)
    wait_for(lambda: first.started() and second.started())
    second.open()
    assert [sock.recv(), sock.recv()] == [second.result("second"), {"id": "second", "type": "complete"}]
    first.open()
    assert [sock.recv(), sock.recv()] == [first.result("first"), {"id": "first", "type": "complete"}]
    assert_nothing_more(sock)


def test_a_socket_runs_its_share_of_queries_at_once_queues_a_few_and_refuses_more(sockets):
    sock, bystander = sockets(), sockets()
    gates = [Gate() for _ in range(RUNNING + WAITING)]
    for n, gate in enumerate(gates):
        sock.subscribe(str(n), gate.query)
    sock.subscribe("over", "{ groups { id } }")
    assert sock.recv() == {
        "id": "over",
        "type": "error",
        "payload": [
            {
                "message": "This socket has 2 queries and mutations running and 2 waiting, its limit: "
                "wait for their results before sending more."
            }
        ],
    }
    wait_for(lambda: all(gate.started() for gate in gates[:RUNNING]))
    groups_query(bystander, "meanwhile")  # the pool has room for other sockets
    time.sleep(0.5)  # what waits does not start, however long it waits
    assert [gate.started() for gate in gates] == [True] * RUNNING + [False] * WAITING
    gates[0].open()
    assert [sock.recv(), sock.recv()] == [gates[0].result("0"), {"id": "0", "type": "complete"}]
    wait_for(gates[RUNNING].started)  # its turn came
    assert not gates[RUNNING + 1].started()
    for gate in gates[1:]:
        gate.open()
    results = [sock.recv() for _ in range(2 * (len(gates) - 1))]
    for n, gate in enumerate(gates[1:], start=1):
        assert gate.result(str(n)) in results
        assert {"id": str(n), "type": "complete"} in results
    assert_nothing_more(sock, bystander)
