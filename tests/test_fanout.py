"""Many sockets on one change: everyone gets their own fields, the serializer runs once per stream."""

import requests

from client import Socket, assert_nothing_more, create_user, subscribe, unique, update_user, wait_for

SOCKETS = 40


def test_one_serializer_run_per_change_however_many_sockets_listen(server):
    pk = create_user(server, unique())
    sockets = [Socket(server) for _ in range(SOCKETS)]
    try:
        selections = (["ID"], ["USERNAME"])
        for index, sock in enumerate(sockets):
            subscribe(
                server,
                sock,
                field="countedSubscription",
                id=pk if index % 4 else None,
                data=selections[index % 2],
            )
        before = requests.get(f"{server.http}/testing/runs/", timeout=10).json()["counted"]
        update_user(server, pk, firstName="fan-out")
        for index, sock in enumerate(sockets):
            data = sock.recv()["payload"]["data"]
            assert list(data) == (["id"] if index % 2 == 0 else ["username"])
        runs = requests.get(f"{server.http}/testing/runs/", timeout=10).json()["counted"] - before
        # Distinct field selections: 2. The change is serialized once, then cut down per selection.
        assert runs == 1
        assert_nothing_more(*sockets)
    finally:
        for sock in sockets:
            sock.close()


def serializer_runs(server):
    return requests.get(f"{server.http}/testing/runs/", timeout=10).json()["counted"]


def counted_groups(server):
    members = requests.get(f"{server.http}/testing/groups/", timeout=10).json()
    return [name for name in members if name.endswith(".counted")]


def test_a_change_nobody_follows_runs_no_serializer(server):
    pk = create_user(server, unique())
    # Sockets of earlier tests leave their groups once the server has served their close.
    wait_for(lambda: not counted_groups(server))
    before = serializer_runs(server)
    update_user(server, pk, firstName="unheard")
    sock = Socket(server)
    try:
        subscribe(server, sock, field="countedSubscription", id=pk, data=["FIRST_NAME"])
        update_user(server, pk, firstName="heard")
        assert sock.recv() == {
            "stream": "counted",
            "payload": {"action": "update", "model": "auth.user", "data": {"first_name": "heard"}},
        }
        # One run: the followed change's. The change nobody followed ran none.
        assert serializer_runs(server) - before == 1
    finally:
        sock.close()
