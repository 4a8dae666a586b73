"""Hostile sockets: what ten of each kind cost a server, and what a bystander sees meanwhile (modern engine).

For each channel layer (in-memory, Redis) one server runs; a bystander socket
pings every 0.1 s and follows a user that an HTTP client changes every 0.25 s.
First it runs alone (idle figures), then beside ``--each`` hostile sockets of
each kind, opened by another client process, for ``--seconds`` seconds; then
the hostile sockets close. Printed:
the server's memory (start, peak, after the close), and the bystander's ping
and event latencies, median and p99, under attack against idle, in the same run.

The kinds (issue "No client can take the process"):

* variables: 100 operations, each with 57 KB of variables it does not declare;
* unread: the widest subscriptions a socket may hold, never read;
* rate flood: subscribes far over the rate, answers never read;
* junk frames: a 2018 socket sending frames that are not JSON, never read;
* big pings: 60 KB pings at the allowed rate, never read;
* wide selections: the most distinct wide selections a socket may hold;
* new documents: a document as slow to validate as the limits allow, a new one each time;
* queries: one query of 150 fields, run again and again.

Run it alone on the machine (two cores: anything beside it is measured too):
``tox -e bench-hostile`` (``--seconds 60 --each 10`` by default).
"""

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "example_project")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
os.environ.setdefault("GDS_DATABASE", ":memory:")

import django  # noqa: E402
import websocket  # noqa: E402

django.setup()

from support import databases  # noqa: E402
from support.client import Socket, create_user, unique, update_user  # noqa: E402
from support.graphql_ws_client import WsSocket  # noqa: E402
from support.reliability import rss_kib  # noqa: E402
from support.servers import Server, project_environment  # noqa: E402

REDIS_URL = os.environ.get("GDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
WIDE = "subscription { userChanges(action: CREATE) { %s action } }"


def wide(n, fields=480):
    return WIDE % " ".join(f"s{n}_{k}: stream" for k in range(fields - 1))


def slow_document(n, names=60):
    """A document as slow to validate as the limits allow (each name repeated as often as allowed)."""
    return "{ %s }" % " ".join(f"n{n}x{j}: groups {{ id name }}" for j in range(names) for _ in range(30))


class Hostile(threading.Thread):
    """One hostile socket of ``kind``, running until ``stop`` is set; it never reads unless it must."""

    def __init__(self, server, kind, stop):
        super().__init__(daemon=True)
        self.server, self.kind, self.stop = server, kind, stop
        self.sock = None
        self.closed_by_server = False

    def run(self):
        try:
            getattr(self, "_" + self.kind.replace(" ", "_"))()
        except Exception:
            self.closed_by_server = True  # the server closed it: the bound held
        finally:
            if self.sock is not None:
                self.sock.conn.close()

    def _pace(self, seconds):
        return not self.stop.wait(seconds)

    def _variables(self):
        self.sock = WsSocket(self.server)
        unused = {"junk": [{"a": n} for n in range(4500)]}
        for n in range(100):
            self.sock.subscribe(str(n), WIDE % "", dict(unused, n=n))
            self._pace(0.06)  # within the rate
        self.stop.wait()

    def _unread(self):
        self.sock = WsSocket(self.server)
        for n in range(4):
            self.sock.subscribe(str(n), wide(n))
            self._pace(0.06)
        self.stop.wait()

    def _rate_flood(self):
        self.sock = WsSocket(self.server)
        n = 0
        while self._pace(0.001):
            self.sock.subscribe(f"f{n}", "{ groups { id } }")
            n += 1

    def _junk_frames(self):
        self.sock = Socket(self.server)
        while self._pace(0.001):
            self.sock.conn.send("{not json")

    def _big_pings(self):
        self.sock = WsSocket(self.server)
        payload = {"junk": "x" * 60_000}
        while self._pace(0.05):
            self.sock.send({"type": "ping", "payload": payload})

    def _wide_selections(self):
        self.sock = WsSocket(self.server)
        for n in range(4):
            self.sock.follow(str(n), wide(n))
        self.stop.wait()

    def _new_documents(self):
        self.sock = WsSocket(self.server)
        n = 0
        while self._pace(0.2):
            self.sock.subscribe(f"d{n}", slow_document(id(self) * 1000 + n))
            self.sock.drain(0.01)
            n += 1

    def _queries(self):
        self.sock = WsSocket(self.server)
        n = 0
        while self._pace(0.05):
            self.sock.subscribe(f"q{n}", slow_document(0, names=5))
            self.sock.drain(0.01)
            n += 1


def attack(server, kinds, each, stop, closed):
    """``each`` hostile sockets of each kind in ``kinds`` until ``stop``; ``closed``: how many were closed.

    It runs in a process of its own: beside eighty busy client threads the
    bystander's own reads would wait for the client's interpreter lock, and its
    latencies would measure the client, not the server.
    """
    inner = threading.Event()
    hostile = [Hostile(server, kind, inner) for kind in kinds for _ in range(each)]
    for attacker in hostile:
        attacker.start()
    stop.wait()
    inner.set()
    for attacker in hostile:
        attacker.join(timeout=30)
    closed.value = sum(attacker.closed_by_server for attacker in hostile)


KINDS = (
    "variables",
    "unread",
    "rate flood",
    "junk frames",
    "big pings",
    "wide selections",
    "new documents",
    "queries",
)


class Bystander:
    """A socket that pings and follows one user; the latencies it saw, in ms."""

    def __init__(self, server):
        self.server = server
        self.sock = WsSocket(server)
        self.pk = create_user(server, unique("bystander"))
        self.sock.follow("b", 'subscription { userChanges(id: "%s") { data { lastName } } }' % self.pk)
        self.sent = {}
        self.pings, self.events = [], []
        self._lock = threading.Lock()

    def measure(self, seconds):
        self.pings, self.events = [], []
        stop = threading.Event()
        reader = threading.Thread(target=self._read, args=(stop,), daemon=True)
        changer = threading.Thread(target=self._change, args=(stop,), daemon=True)
        reader.start()
        changer.start()
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            with self._lock:
                self.sent[f"ping {n}"] = time.monotonic()
            self.sock.send({"type": "ping", "payload": {"n": n}})
            n += 1
            time.sleep(0.1)
        stop.set()
        changer.join()
        reader.join()
        return self.pings, self.events

    def _change(self, stop):
        n = 0
        while not stop.wait(0.25):
            name = f"b{n}"
            with self._lock:
                self.sent[name] = time.monotonic()
            update_user(self.server, self.pk, lastName=name)
            n += 1

    def _read(self, stop):
        self.sock.conn.settimeout(0.1)
        while not stop.is_set():
            try:
                message = json.loads(self.sock.conn.recv())
            except websocket.WebSocketTimeoutException:
                continue
            now = time.monotonic()
            if message.get("type") == "pong":
                key = f"ping {message['payload']['n']}"
                target = self.pings
            else:
                key = message["payload"]["data"]["userChanges"]["data"]["lastName"]
                target = self.events
            with self._lock:
                started = self.sent.pop(key, None)
            if started is not None:
                target.append((now - started) * 1000)


def percentiles(values):
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered):.0f} / {p99:.0f}"


def run(layer, args, workdir, made):
    env = project_environment(made, f"hostile-{layer}", layer, REDIS_URL if layer == "redis" else None)
    server = Server(env, workdir / f"hostile-{layer}.log")
    try:
        bystander = Bystander(server)
        bystander.measure(5)  # warm-up: imports, caches, pools
        idle_pings, idle_events = bystander.measure(args.idle)
        start = rss_kib(server)
        processes = multiprocessing.get_context("fork")
        stop, closed = processes.Event(), processes.Value("i", 0)
        attacker = processes.Process(
            target=attack, args=(server, args.kinds.split(","), args.each, stop, closed)
        )
        attacker.start()
        peak = [start]
        sampler_stop = threading.Event()

        def sample():
            while not sampler_stop.wait(0.5):
                peak.append(rss_kib(server))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        pings, events = bystander.measure(args.seconds)
        stop.set()
        attacker.join(timeout=60)
        time.sleep(8)  # the server's trim runs at most every 5 s after a close
        sampler_stop.set()
        after = rss_kib(server)
        return {
            "layer": layer,
            "sockets": args.each * len(args.kinds.split(",")),
            "closed by the server": closed.value,
            "RSS start (MiB)": start / 1024,
            "growth at peak (MiB)": (max(peak) - start) / 1024,
            "after the close (MiB)": (after - start) / 1024,
            "ping idle": percentiles(idle_pings),
            "ping under attack": percentiles(pings),
            "event idle": percentiles(idle_events),
            "event under attack": percentiles(events),
            "event p99 ratio": (
                sorted(events)[int(len(events) * 0.99)] / sorted(idle_events)[int(len(idle_events) * 0.99)]
                if events and idle_events
                else float("nan")
            ),
            "tracebacks": server.log().count("Traceback"),
        }
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long the attack lasts")
    parser.add_argument("--idle", type=float, default=20, help="seconds the bystander is measured alone")
    parser.add_argument("--each", type=int, default=10, help="hostile sockets of each kind")
    parser.add_argument("--layers", default="inmemory,redis")
    parser.add_argument("--kinds", default=",".join(KINDS), help="kinds of hostile socket, comma-separated")
    parser.add_argument("--keep", metavar="DIR", help="keep the servers' logs and databases in DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        made = databases.Databases(workdir)
        try:
            results = [run(layer, args, workdir, made) for layer in args.layers.split(",")]
        finally:
            made.drop_all()
    print(f"{args.each} hostile sockets of each of these kinds for {args.seconds:.0f} s: {args.kinds}")
    print("latencies in ms, median / p99; memory in MiB against the start")
    for result in results:
        print(json.dumps(result, default=str))
    header = ("layer", "RSS peak", "after close", "ping idle", "ping attacked", "event idle")
    header += ("event attacked",)
    print("{:<9} {:>9} {:>11} {:>11} {:>13} {:>11} {:>14}".format(*header))
    for r in results:
        print(
            "{:<9} {:>+9.1f} {:>+11.1f} {:>11} {:>13} {:>11} {:>14}".format(
                r["layer"],
                r["growth at peak (MiB)"],
                r["after the close (MiB)"],
                r["ping idle"],
                r["ping under attack"],
                r["event idle"],
                r["event under attack"],
            )
        )


if __name__ == "__main__":
    main()
