"""Churn, mass abort and soak against a real server: the checks the suite runs small and the benchmark runs large.

Each returns its figures as a dict; the tests assert them, ``benchmarks/reliability.py`` prints them.
"""

import socket as tcp
import statistics
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.client import TIMEOUT, Socket, create_user, subscribe, unique, update_user
from support.leftovers import memberships, recorded, redis_memberships


def rss_kib(server):
    """The server process's resident memory, in KiB."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def abort(sock):
    """Drop the connection as a crashed client would: a TCP reset, no close frame."""
    raw = sock.conn.sock
    raw.setsockopt(tcp.SOL_SOCKET, tcp.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


def socket_subscribe(sock, pk):
    sock.send({"stream": "users", "payload": {"action": "subscribe", "pk": pk, "data": {"action": "update"}}})
    reply = sock.recv()
    assert reply["payload"]["response_status"] == 200, reply


def leftovers(server, sockets, redis_url=None):
    """(rows, records, group places) kept for ``sockets``; Redis places count every socket of the server."""
    rows, records = recorded(server.env, sockets)
    if redis_url:
        places = redis_memberships(redis_url, server.env["GDS_REDIS_PREFIX"])
    else:
        places = sum(len(members) for members in memberships(server, sockets).values())
    return rows, records, places


def wait_until_clean(server, sockets, redis_url=None, timeout=60):
    """Seconds until nothing is kept for ``sockets`` (or ``timeout``); and what is kept then."""
    started = time.monotonic()
    while True:
        kept = leftovers(server, sockets, redis_url)
        waited = time.monotonic() - started
        if kept == (0, 0, 0) or waited > timeout:
            return waited, kept
        time.sleep(0.5)


def churn(server, cycles, redis_url=None, workers=16):
    """``cycles`` of connect, subscribe, leave (half close cleanly, half abort); returns the figures."""
    pk = create_user(server, unique("churn"))
    done = []

    def cycle(index):
        sock = Socket(server)
        if index % 2:
            socket_subscribe(sock, pk)
        else:
            subscribe(server, sock, id=pk)
        (sock.close if index % 4 < 2 else lambda: abort(sock))()
        done.append(sock)

    rss_before = rss_kib(server)
    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(cycle, range(cycles)))
    took = time.monotonic() - started
    waited, kept = wait_until_clean(server, done, redis_url)
    return {
        "cycles": len(done),
        "cycles/s": len(done) / took,
        "rows left": kept[0] + kept[1],
        "places left": kept[2],
        "forgotten after (s)": waited,
        "RSS growth (KiB)": rss_kib(server) - rss_before,
    }


def mass_abort(server, count, redis_url=None, bound=60):
    """``count`` subscribed sockets abort at once; returns how long until nothing is kept, and what is."""
    pk = create_user(server, unique("abort"))
    with ThreadPoolExecutor(16) as pool:
        crowd = list(pool.map(lambda _: Socket(server), range(count)))
        list(pool.map(lambda sock: subscribe(server, sock, id=pk), crowd))
    with ThreadPoolExecutor(64) as pool:
        list(pool.map(abort, crowd))
    # Connects must not queue behind the crowd's forgetting (daphne drops a connect after 5 s).
    started = time.monotonic()
    Socket(server).close()
    connect = time.monotonic() - started
    waited, kept = wait_until_clean(server, crowd, redis_url, timeout=bound)
    return {
        "aborted": count,
        "next connect (s)": connect,
        "rows left": kept[0] + kept[1],
        "places left": kept[2],
        "forgotten after (s)": waited,
    }


def soak(server, sockets, rate, seconds, objects=5):
    """``sockets`` follow ``objects`` users while they change ``rate`` times a second for ``seconds``.

    Returns how many notifications were expected, lost, duplicated and out of commit order.
    """
    pks = [create_user(server, unique("soak")) for _ in range(objects)]
    with ThreadPoolExecutor(16) as pool:
        crowd = list(pool.map(lambda _: Socket(server), range(sockets)))
        list(pool.map(lambda item: subscribe(server, item[1], data=["ID", "FIRST_NAME"]), enumerate(crowd)))
    heard = [[] for _ in crowd]
    stop = threading.Event()

    def listen(index):
        sock = crowd[index]
        while not stop.is_set():
            try:
                frame = sock.recv(timeout=0.5)
            except Exception:
                continue
            heard[index].append((frame["payload"]["data"]["id"], frame["payload"]["data"]["first_name"]))

    listeners = [threading.Thread(target=listen, args=(i,), daemon=True) for i in range(len(crowd))]
    for thread in listeners:
        thread.start()
    sent = {pk: [] for pk in pks}

    def change(pk):
        # One sender per user, so that each user's commit order is its sender's order.
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            name = f"soak-{pk}-{len(sent[pk])}"
            update_user(server, pk, firstName=name)
            sent[pk].append(name)
            time.sleep(max(0, started + len(sent[pk]) * objects / rate - time.monotonic()))

    started = time.monotonic()
    senders = [threading.Thread(target=change, args=(pk,)) for pk in pks]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    count = sum(len(names) for names in sent.values())
    rate_held = count / (time.monotonic() - started)
    deadline = time.monotonic() + TIMEOUT * 6  # a server that fell behind catches up meanwhile
    while time.monotonic() < deadline and any(len(h) < count for h in heard):
        time.sleep(0.2)
    time.sleep(1.0)  # anything doubled arrives meanwhile
    stop.set()
    for thread in listeners:
        thread.join()
    lost = duplicated = disordered = 0
    for frames in heard:
        for pk in pks:
            got = [name for frame_pk, name in frames if frame_pk == pk]
            lost += len(set(sent[pk]) - set(got))
            duplicated += len(got) - len(set(got))
            disordered += int([name for name in got if name in sent[pk]] != [n for n in sent[pk] if n in got])
    for sock in crowd:
        sock.close()
    return {
        "sockets": sockets,
        "changes/s": rate_held,
        "seconds": seconds,
        "notifications": count * sockets,
        "lost": lost,
        "duplicated": duplicated,
        "out of order": disordered,
    }


def outage(server, redis, seconds, rate=5):
    """Redis hangs for ``seconds`` while a followed user is saved over HTTP ``rate`` times a second.

    Returns the save times before and during the outage, and how soon after
    Redis answers again a new change reaches the socket that stayed open.
    """
    pk = create_user(server, unique("outage"))
    sock = Socket(server)
    subscribe(server, sock, id=pk, data=["LAST_NAME"])

    def timed_save(name):
        started = time.monotonic()
        update_user(server, pk, lastName=name)
        return time.monotonic() - started

    before = statistics.median(timed_save(f"before {n}") for n in range(10))
    sock.drain(1.0)
    during = []
    redis.hang()
    try:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            during.append(timed_save(f"during {len(during)}"))
            time.sleep(max(0, started + len(during) / rate - time.monotonic()))
    finally:
        redis.resume()
    resumed = time.monotonic()
    heard = False
    while not heard and time.monotonic() - resumed < 60:
        name = unique("after")
        update_user(server, pk, lastName=name)
        heard = any(frame["payload"]["data"]["last_name"] == name for frame in sock.drain(0.5))
    flowing_after = time.monotonic() - resumed
    sock.close()
    return {
        "saves": len(during),
        "save before (ms)": before * 1000,
        "slowest save during (ms)": max(during) * 1000,
        "flowing again after (s)": flowing_after if heard else None,
    }
