"""Many sockets on one change: everyone gets their own fields, the serializer runs once per stream."""

import requests

from client import Socket, create_user, subscribe, unique, update_user

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
    finally:
        for sock in sockets:
            sock.close()
