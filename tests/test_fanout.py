"""Many sockets on one change: everyone gets their own fields, the serializer runs once per stream."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support.client import Socket, assert_nothing_more, create_user, subscribe, unique, update_user, wait_for
from support.servers import LEGACY, Server

SOCKETS = 40
LAYERS = ["inmemory", "redis"] + ([] if LEGACY else ["pubsub"])


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


@pytest.mark.stack
@pytest.mark.parametrize("layer", LAYERS)
def test_sockets_that_connect_together_to_a_new_server_each_hear_a_change_once(workdir, project, layer):
    # The first sockets of a process set up its fan-out; done twice, a change would arrive twice.
    env = project(f"together-{layer}", layer=layer)
    server = Server(env, workdir / f"together-{layer}.log")
    with ThreadPoolExecutor(SOCKETS) as pool:
        sockets = list(pool.map(lambda _: Socket(server), range(SOCKETS)))
    try:
        pk = create_user(server, unique("together"))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda sock: subscribe(server, sock, id=pk, data=["ID"]), sockets))
        update_user(server, pk, firstName="once")
        expected = {
            "stream": "users",
            "payload": {"action": "update", "model": "auth.user", "data": {"id": pk}},
        }
        with ThreadPoolExecutor(SOCKETS) as pool:
            assert list(pool.map(lambda sock: sock.drain(), sockets)) == [[expected]] * SOCKETS
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
