"""Modern engine: each server process delivers from the change log, so nothing committed is missed.

A change reaches every socket in the one commit order, whichever process saved
it, and still reaches them when the process that saved it dies right after its
commit. (The channel layer's outage: ``test_faults``; a save in ``manage.py
shell`` on the in-memory layer: ``test_other_processes``.) Both protocols are
followed: standard sockets check that cursors grow, a 2018 socket hears the same.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support.article_feed import SOCKETS, articles, close, new_author, nothing_more, received
from support.client import TIMEOUT, Socket, subscribe, unique
from support.graphql_ws_client import WsSocket
from support.servers import Server

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def two_servers(workdir, project):
    """Two server processes on one database and one Redis layer."""
    env = project("from-log", layer="redis")
    first = Server(env, workdir / "from-log-a.log")
    second = Server(env, workdir / "from-log-b.log")
    yield env, first, second
    first.stop()
    second.stop()


def followers(server, count=SOCKETS):
    """``count`` standard sockets following every article change, at once."""
    sockets = [WsSocket(server) for _ in range(count)]
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda sock: sock.follow("1", articles()), sockets))
    return sockets


def test_a_change_whose_saving_process_died_right_after_its_commit_reaches_every_socket(two_servers, workdir):
    env, first, _ = two_servers
    author = new_author(first)
    sockets = followers(first)
    old = Socket(first)
    subscribe(first, old, field="articleSubscription", action="CREATE", data=["ID", "TITLE"])
    for round in range(3):
        saver = Server(env, workdir / f"from-log-dying-{round}.log")
        title = unique("orphan")
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(f"{saver.http}/testing/die-after-commit/", json={"title": title, "author": author},
                          timeout=TIMEOUT)  # fmt: skip
        assert saver.process.wait(TIMEOUT) == 1
        [(action, pk, heard)] = received(sockets[0], "1", 1)
        assert (action, heard) == ("CREATE", title)
        for sock in sockets[1:]:
            assert received(sock, "1", 1) == [("CREATE", pk, title)]
        assert old.recv() == {
            "stream": "articles",
            "payload": {
                "action": "create",
                "model": "testproject.article",
                "data": {"id": pk, "title": title},
            },
        }
        saver.stop()
    nothing_more(*sockets, old)
    close([*sockets, old])


def test_changes_saved_by_two_processes_at_once_reach_every_socket_in_the_one_commit_order(two_servers):
    _, first, second = two_servers
    author = new_author(first)
    sockets = followers(first, 3) + followers(second, 3)
    titles = {server: [unique(name) for _ in range(12)] for server, name in ((first, "a"), (second, "b"))}

    def save_all(server):
        for title in titles[server]:  # one request a change: the two processes' commits interleave
            requests.post(f"{server.http}/testing/changes/", timeout=TIMEOUT, json={
                "steps": [{"create": "article", "as": "x", "set": {"title": title, "author_id": author}}],
            }).raise_for_status()  # fmt: skip

    savers = [threading.Thread(target=save_all, args=(server,)) for server in (first, second)]
    for saver in savers:
        saver.start()
    for saver in savers:
        saver.join()
    heard = [received(sock, "1", 24) for sock in sockets]  # each checks that cursors grow
    assert all(events == heard[0] for events in heard), heard
    # Every change, once; each process's own in the order it saved them.
    in_order = [title for _, _, title in heard[0]]
    assert sorted(in_order) == sorted(titles[first] + titles[second])
    for server in (first, second):
        assert [title for title in in_order if title in titles[server]] == titles[server]
    nothing_more(*sockets)
    close(sockets)
