"""Many clients at the same moment: connects, subscribes, changes, unsubscribes and disconnects together.

Every request runs concurrently against one real server (SQLite or PostgreSQL,
whichever the tox env names): none may fail for want of a database lock, and
every socket hears each change exactly once. Saves of one row that race
outside transactions each send a state that was committed, judged at that
same moment (see ``dispatch.judge``).
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from support.client import (
    TIMEOUT,
    Socket,
    assert_nothing_more,
    create_user,
    graphql,
    subscription_request,
    unique,
    update_user,
)
from support.leftovers import memberships, recorded
from support.servers import SMALL

SOCKETS = 50 if SMALL else 200
IN_FLIGHT = 32
CHANGES = 20
LEAVING = SOCKETS // 2
FIELDS = ["ID", "FIRST_NAME"]

CONFIRMED = {"action": "update", "operation": "subscribe", "ok": True, "stream": "users", "error": None}
UNSUBSCRIBED = dict(CONFIRMED, operation="unsubscribe")


def concurrently(function, items, workers=IN_FLIGHT):
    """``function`` over ``items``, ``workers`` at a time; the results in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def notification(pk, first_name):
    return {
        "stream": "users",
        "payload": {"action": "update", "model": "auth.user", "data": {"id": pk, "first_name": first_name}},
    }


def socket_request(sock, operation, pk, request_id):
    """Subscribe or unsubscribe over the socket; return its reply frame."""
    sock.send(
        {
            "stream": "users",
            "payload": {
                "action": operation,
                "pk": pk,
                "data": {"action": "update", "fields": ["id", "first_name"]},
                "request_id": request_id,
            },
        }
    )
    return sock.recv()


def socket_reply(operation, request_id):
    return {
        "stream": "users",
        "payload": {
            "action": operation,
            "data": {"action": "update"},
            "errors": [],
            "response_status": 200,
            "request_id": request_id,
        },
    }


def http_request(server, sock, operation, pk, session):
    """Subscribe or unsubscribe over HTTP; return (the GraphQL result, the socket's confirmation)."""
    query = subscription_request(
        "userSubscription", sock.channel_id, operation=operation.upper(), id=pk, data=FIELDS
    )
    response = session.post(f"{server.http}/graphql/", json={"query": query}, timeout=TIMEOUT * 3)
    assert response.status_code == 200, response.text
    return response.json()["data"]["userSubscription"], sock.recv(timeout=TIMEOUT * 3)


def http_result(operation):
    return {"ok": True, "error": None, "stream": "users", "operation": operation.upper(), "action": "UPDATE"}


def request(server, sock, index, operation, pk, session):
    """Half the sockets use HTTP, half send frames; return what came back and what was expected."""
    if index % 2:
        rid = f"{operation}-{index}"
        return socket_request(sock, operation, pk, rid), socket_reply(operation, rid)
    expected = CONFIRMED if operation == "subscribe" else UNSUBSCRIBED
    return http_request(server, sock, operation, pk, session), (http_result(operation), expected)


def read_frames(sock, count):
    return [sock.recv(timeout=TIMEOUT * 3) for _ in range(count)]


def server_errors(server, since):
    """Error lines the server logged after ``since`` characters of its log."""
    return [line for line in server.log()[since:].splitlines() if "Traceback" in line or "locked" in line]


def test_many_clients_connect_subscribe_and_hear_every_change_exactly_once(server):
    since = len(server.log())
    pks = concurrently(lambda _: create_user(server, unique("crowd")), range(CHANGES))
    sockets = concurrently(lambda _: Socket(server), range(SOCKETS))
    try:
        assert len({sock.channel_id for sock in sockets}) == SOCKETS
        session = requests.Session()
        answers = concurrently(
            lambda item: request(server, item[1], item[0], "subscribe", None, session),
            list(enumerate(sockets)),
        )
        assert [got for got, _ in answers] == [expected for _, expected in answers]

        changes = [(pk, f"change-{i}") for i, pk in enumerate(pks)]
        # Changes come in concurrently too: four saves in flight at any moment.
        concurrently(lambda change: update_user(server, change[0], firstName=change[1]), changes, workers=4)
        received = concurrently(lambda sock: read_frames(sock, CHANGES), sockets)
        expected = sorted(json.dumps(notification(pk, name), sort_keys=True) for pk, name in changes)
        wrong = [
            index
            for index, frames in enumerate(received)
            if sorted(json.dumps(frame, sort_keys=True) for frame in frames) != expected
        ]
        assert wrong == []
        assert_nothing_more(*sockets, quiet=1.5)
        assert server_errors(server, since) == []
    finally:
        concurrently(lambda sock: sock.close(), sockets)


def test_saves_of_one_row_outside_transactions_each_send_a_committed_state_ending_with_the_last(server):
    # Without a transaction, another request's save can commit between a save and its
    # judgement; the notification then carries that later state, judged at that same
    # moment (never data of one moment judged by another). So each save sends one
    # notification, every socket the same ones, each a state that was committed, and
    # the last one is the row as it ends.
    pk = create_user(server, unique("contended"))
    sockets = concurrently(lambda _: Socket(server), range(SOCKETS // 10))
    try:
        session = requests.Session()
        concurrently(
            lambda item: request(server, item[1], item[0], "subscribe", pk, session), list(enumerate(sockets))
        )
        names = [f"change-{i}" for i in range(CHANGES)]
        concurrently(lambda name: update_user(server, pk, firstName=name), names, workers=4)
        received = concurrently(lambda sock: read_frames(sock, CHANGES), sockets)
        assert all(frames == received[0] for frames in received)
        assert {frame["payload"]["data"]["first_name"] for frame in received[0]} <= set(names)
        final = graphql(server, "{ users { id firstName } }")["data"]["users"]
        assert received[0][-1] == notification(pk, next(u["firstName"] for u in final if int(u["id"]) == pk))
        assert_nothing_more(*sockets, quiet=1.5)
    finally:
        concurrently(lambda sock: sock.close(), sockets)


def test_half_the_crowd_leaves_at_once_while_changes_keep_coming(server):
    since = len(server.log())
    pk = create_user(server, unique("churn"))
    sockets = concurrently(lambda _: Socket(server), range(SOCKETS))
    session = requests.Session()
    try:
        answers = concurrently(
            lambda item: request(server, item[1], item[0], "subscribe", pk, session), list(enumerate(sockets))
        )
        assert [got for got, _ in answers] == [expected for _, expected in answers]
        leaving, staying = sockets[:LEAVING], sockets[LEAVING:]

        sent = []
        stop = threading.Event()

        def keep_changing():
            while not stop.is_set():
                name = f"during-{len(sent)}"
                update_user(server, pk, firstName=name)
                sent.append(name)

        changer = threading.Thread(target=keep_changing)
        changer.start()
        try:

            def leave(item):
                index, sock = item
                if index % 4 == 0:  # a quarter simply disconnects
                    sock.close()
                    return None
                # The rest unsubscribe first (half over HTTP, half as frames); notifications may
                # still arrive until the reply, so read past them.
                operation = "unsubscribe"
                if index % 2:
                    rid = f"leave-{index}"
                    sock.send(
                        {
                            "stream": "users",
                            "payload": {
                                "action": operation,
                                "pk": pk,
                                "data": {"action": "update"},
                                "request_id": rid,
                            },
                        }
                    )
                    reply = _first_that_is_not_a_notification(sock)
                    expected = socket_reply(operation, rid)
                else:
                    query = subscription_request(
                        "userSubscription", sock.channel_id, operation="UNSUBSCRIBE", id=pk
                    )
                    response = session.post(f"{server.http}/graphql/", json={"query": query}, timeout=30)
                    reply = (
                        response.json()["data"]["userSubscription"],
                        _first_that_is_not_a_notification(sock),
                    )
                    expected = (http_result(operation), UNSUBSCRIBED)
                sock.close()
                return reply, expected

            results = [result for result in concurrently(leave, list(enumerate(leaving))) if result]
            assert [got for got, _ in results] == [expected for _, expected in results]
            time.sleep(1)
        finally:
            stop.set()
            changer.join()

        # Every socket that stayed heard every change, once, in commit order.
        expected = [notification(pk, name) for name in sent]
        received = concurrently(lambda sock: read_frames(sock, len(sent)), staying)
        assert [index for index, frames in enumerate(received) if frames != expected] == []
        assert_nothing_more(*staying, quiet=1.5)
        # Those that left are forgotten: no rows, no group memberships.
        _wait_for(lambda: recorded(server.env, leaving) == [0, 0] and memberships(server, leaving) == {})
        assert server_errors(server, since) == []
    finally:
        concurrently(lambda sock: sock.close(), sockets)
    _wait_for(lambda: recorded(server.env, sockets) == [0, 0] and memberships(server, sockets) == {})


def _first_that_is_not_a_notification(sock):
    while True:
        frame = sock.recv(timeout=TIMEOUT * 3)
        if "payload" not in frame or frame["payload"].get("model") != "auth.user":
            return frame


def _wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError("the server did not forget the closed sockets in time")
