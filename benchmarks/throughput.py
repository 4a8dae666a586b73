"""Throughput benchmark: N sockets follow one user; how fast do its changes reach them all, at what cost.

For each target, layer, socket count N and count of server processes, fresh
server processes serve N WebSockets held by client processes of their own
(``clients.py``, one per server), all following one user. The trigger is the
same for every target: the ``updateUser`` mutation over HTTP (sent to the
servers in turn). Measured, all in the same run:

* connect: seconds for N sockets to connect (and, but for the package, follow);
* subscribe (the package and the original): seconds for the N HTTP subscribe
  requests, 16 at a time, and that time over N trivial queries' (``{ __typename }``);
* latency: 20 updates one at a time, each waiting until every socket has it;
  p50 and p99 of the time from the HTTP request to the last socket's frame;
* throughput: 100 updates back to back; frames delivered per second, from the
  first request to the last frame;
* lost, duplicated and stale (arrived after a later update's) frames;
* the servers' CPU seconds during the throughput phase, and their memory per
  idle subscribed socket.

Targets (``TARGETS``): ``package`` is this package (the example's ``users``
stream, whole objects) on the engine of this environment, and ``package-ws``
the same stream over graphql-transport-ws (``userChanges``, every field, the
same operation on every socket; modern engine). On the modern engine
its baseline is ``standard``, the standard Channels 4 way, written for the
comparison in tests/testproject/standard.py (the consumer joins a group, a save
is serialized once with the same serializer and sent once to the group, the
consumer forwards the text); ``dcrf`` is djangochannelsrestframework's model
observer and ``dcrf-inst`` its instance mixin (tests/testproject/dcrf.py), on a
venv of their own. On the legacy
engine the baseline is ``original``, the 2018 package (0.0.9, from PyPI) on a
Channels 1 venv of its own (benchmarks/original/). Ratios compare each row with
the baseline of the same N, servers and layer. Run it alone on the machine,
inside an engine's environment: ``tox -e bench-throughput`` (modern) or
``tox -e bench-throughput-legacy``, after ``tox -e bench-dcrf,bench-original``
has made the peers' venvs.
"""

import argparse
import itertools
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support import databases  # noqa: E402
from support.client import create_user, graphql, subscription_request, unique, update_user  # noqa: E402
from support.reliability import rss_kib  # noqa: E402
from support.servers import ENGINE, LEGACY, Server, project_environment  # noqa: E402

ROOT = HERE.parent
REDIS_URL = os.environ.get("GDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
LATENCY_ROUNDS = 20
#: Seconds to wait for one update to reach every socket before calling the rest lost.
WAIT = 120


@dataclass(frozen=True)
class Target:
    """One thing to measure: a server, the WebSocket path its clients open, and how they follow a user."""

    path: str
    client: str  # a mode of clients.py
    engine: str = ""  # "modern" or "legacy": the only engine it runs on ("": both)
    env: dict = field(default_factory=dict)
    venv: str = ""  # the tox env whose interpreter runs the server, when not this one
    settings: str = "testproject.settings_bench"
    import_path: tuple = ()
    asgi: str = "testproject.asgi_bench:application"  # the modern engine's

    def python(self):
        """The server's interpreter; exits with what to run when its venv is not made yet."""
        if not self.venv:
            return sys.executable
        python = ROOT / ".tox" / self.venv / "bin" / "python"
        if not python.exists():
            sys.exit(f"{python} is missing: make it first with `tox -e {self.venv}`")
        return str(python)


TARGETS = {
    # This package, on the engine of this environment: the example's "users" stream.
    "package": Target("/subscriptions/", "package"),
    # The same stream over graphql-transport-ws (the example's userChanges field).
    "package-ws": Target("/graphql/", "graphql-ws", "modern"),
    # The standard Channels 4 way (tests/testproject/standard.py), the modern baseline.
    "standard": Target("/standard/", "standard", "modern", {"GDS_BENCH_STANDARD": "1"}),
    # djangochannelsrestframework (tests/testproject/dcrf.py), a peer: its model observer,
    # and its instance mixin (a re-read per socket and change).
    "dcrf": Target("/dcrf/", "dcrf", "modern", {"GDS_BENCH_DCRF": "1"}, venv="bench-dcrf"),
    "dcrf-inst": Target("/dcrf-instance/", "dcrf", "modern", {"GDS_BENCH_DCRF": "1"}, venv="bench-dcrf"),
    # The 2018 original, graphene-django-subscriptions 0.0.9 (benchmarks/original/), the legacy baseline.
    "original": Target(
        "/subscriptions/",
        "package",
        "legacy",
        venv="bench-original",
        settings="originalproject.settings",
        import_path=(HERE / "original",),
    ),
}
#: The target each engine's ratios compare with.
BASELINE = {"modern": "standard", "legacy": "original"}


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clients:
    """The client process: its sockets, and word of each label that every socket has."""

    def __init__(self, server, count, target, pk):
        url = f"ws://127.0.0.1:{server.port}{target.path}"
        mode = target.client
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "clients.py"), url, str(count), mode, str(pk)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.channel_ids = json.loads(self.process.stdout.readline())["ready"]
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._everywhere = set()

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(json.loads(line))

    def wait_everywhere(self, label, timeout=WAIT):
        """Wait until every socket has ``label``; return whether it came to that."""
        deadline = time.monotonic() + timeout
        while label not in self._everywhere:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            self._everywhere.add(line.get("all"))
        return True

    def report(self):
        """Every socket's ``[label, arrival time]`` pairs; the process exits."""
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        while True:
            line = self._lines.get(timeout=WAIT)
            if "frames" in line:
                break
        self.process.wait(timeout=60)
        return line["frames"]


def timed_requests(server, queries):
    """Seconds for ``queries`` to be answered over HTTP, 16 at a time; each must succeed."""

    def one(query):
        reply = graphql(server, query)
        assert "errors" not in reply, reply
        assert reply["data"].get("userSubscription", {"ok": True})["ok"], reply

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, queries))
    return time.perf_counter() - started


def arrivals_by_label(frames):
    """``{label: [arrival times]}`` over every socket."""
    found = {}
    for socket_frames in frames:
        for label, arrived in socket_frames:
            found.setdefault(label, []).append(arrived)
    return found


def counts(frames, labels):
    """(lost, duplicated, stale) frames of ``labels`` (sent in this order) over every socket."""
    order = {label: index for index, label in enumerate(labels)}
    lost = duplicated = stale = 0
    for socket_frames in frames:
        seen = [label for label, _ in socket_frames if label in order]
        lost += len(set(order) - set(seen))
        duplicated += len(seen) - len(set(seen))
        latest = -1
        for label in seen:
            if order[label] < latest:
                stale += 1
            latest = max(latest, order[label])
    return lost, duplicated, stale


def measure(env, workdir, name, target, count, rounds, servers=1):
    """``servers`` fresh server processes of ``target``, ``count`` sockets spread over them: a row of figures.

    Each socket subscribes through its own server; the updates go to the servers in turn.
    """
    running = []
    try:
        for index in range(servers):
            running.append(
                Server(env, workdir / f"{name}-{index}.log", asgi_app=target.asgi, python=target.python())
            )
        pk = create_user(running[0], unique("bench"))
        base_rss = [rss_kib(server) for server in running]
        started = time.perf_counter()
        clients = [Clients(server, count // servers, target, pk) for server in running]
        connect = time.perf_counter() - started
        subscribe = query = None
        if target.client == "package":
            subscribe = sum(
                timed_requests(
                    server, [subscription_request("userSubscription", ch, id=pk) for ch in c.channel_ids]
                )
                for server, c in zip(running, clients)
            )
            query = timed_requests(running[0], ["{ __typename }"] * count)
        time.sleep(1)  # let confirmations settle
        per_socket = sum(rss_kib(server) - base for server, base in zip(running, base_rss)) / count
        turns = itertools.cycle(running)
        triggers = {}
        for index in range(LATENCY_ROUNDS):
            label = f"l{index}"
            triggers[label] = time.time()
            update_user(next(turns), pk, firstName=label)
            for c in clients:
                c.wait_everywhere(label)
        cpu_before = sum(cpu_seconds(server.process.pid) for server in running)
        burst = [f"t{index}" for index in range(rounds)]
        first = time.time()
        for label in burst:
            update_user(next(turns), pk, firstName=label)
        for c in clients:
            c.wait_everywhere(burst[-1])
        time.sleep(0.5)  # a frame later than the last one would be a stale one
        cpu = sum(cpu_seconds(server.process.pid) for server in running) - cpu_before
        frames = [socket_frames for c in clients for socket_frames in c.report()]
        tracebacks = sum(server.log().count("Traceback") for server in running)
    except Exception:
        for server in running:  # the logs go with the temporary folder: say what the servers said
            print(f"--- {server.log_path.name}, its end:\n{server.log()[-4000:]}", file=sys.stderr)
        raise
    finally:
        for server in running:
            server.stop()
    found = arrivals_by_label(frames)
    lasts = sorted(max(found.get(label, [triggers[label]])) - triggers[label] for label in triggers)
    burst_times = [t for label in burst for t in found.get(label, [])]
    throughput = len(burst_times) / (max(burst_times) - first) if burst_times else 0.0
    lost, duplicated, stale = counts(frames, list(triggers) + burst)
    return {
        "connect": connect,
        "subscribe": subscribe,
        "query": query,
        "p50": statistics.median(lasts),
        "p99": lasts[min(len(lasts) - 1, int(len(lasts) * 0.99))],
        "fps": throughput,
        "lost": lost,
        "dup": duplicated,
        "stale": stale,
        "cpu": cpu,
        "rss": per_socket,
        "tracebacks": tracebacks,
    }


def targets(layers, names):
    """``(name, layer)`` of each target that runs on this engine, for each layer."""
    for layer in layers:
        for name in names:
            if TARGETS[name].engine in ("", ENGINE):
                yield name, layer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", default="300,1000", help="comma-separated socket counts")
    parser.add_argument("--rounds", type=int, default=100, help="back-to-back updates per server")
    default_layers = "inmemory" if LEGACY else "inmemory,redis"
    parser.add_argument("--layers", default=default_layers, help="inmemory, redis, pubsub (modern)")
    parser.add_argument(
        "--targets", default=",".join(TARGETS), help="comma-separated, of: " + ", ".join(TARGETS)
    )
    parser.add_argument(
        "--servers",
        default="1",
        help="comma-separated counts of server processes (more than 1: Redis layers only)",
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.sockets.split(",")]
    processes = [int(n) for n in args.servers.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        made = databases.Databases(workdir)
        for count in sizes:
            for servers in processes:
                for mode, layer in targets(args.layers.split(","), args.targets.split(",")):
                    if servers > 1 and layer == "inmemory":
                        continue  # an in-memory layer is one process's own
                    target = TARGETS[mode]
                    name = f"{mode}-{layer}-{count}-{servers}"
                    env = project_environment(
                        made, name, layer, REDIS_URL, target.settings, target.import_path, target.python()
                    )
                    env.update(target.env, GDS_DEBUG="0")
                    row = measure(env, workdir, name, target, count, args.rounds, servers)
                    rows.append(((count, servers, layer), mode, row))
                    print(f"  measured {name}", file=sys.stderr, flush=True)
        databases.forget_redis_keys(REDIS_URL)
    print_table(rows, args.rounds)


def print_table(rows, rounds):
    """The rows, with their ratios to this engine's baseline measured with the same N, servers and layer."""
    print(f"engine: {ENGINE}; {LATENCY_ROUNDS} spaced updates, then {rounds} back to back")
    print(
        f"{'N':>5} {'srv':>3} {'target':<9} {'layer':<9} {'conn s':>6} {'sub s':>6} {'x query':>7}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'frames/s':>9} {'lost':>5} {'dup':>4} {'stale':>5} {'cpu s':>6}"
        f" {'KiB/sock':>8} {'x fps':>6} {'x p50':>6}"
    )
    baseline = {key: row for key, mode, row in rows if mode == BASELINE[ENGINE]}
    for key, mode, row in rows:
        count, servers, layer = key
        base = baseline.get(key)
        ratio_fps = f"{row['fps'] / base['fps']:.2f}" if base and base["fps"] else "-"
        ratio_p50 = f"{row['p50'] / base['p50']:.2f}" if base and base["p50"] else "-"
        subscribe = f"{row['subscribe']:.1f}" if row["subscribe"] is not None else "-"
        per_query = f"{row['subscribe'] / row['query']:.2f}" if row["subscribe"] is not None else "-"
        print(
            f"{count:>5} {servers:>3} {mode:<9} {layer:<9}"
            f" {row['connect']:>6.1f} {subscribe:>6} {per_query:>7}"
            f" {row['p50'] * 1000:>7.0f} {row['p99'] * 1000:>7.0f}"
            f" {row['fps']:>9.0f} {row['lost']:>5} {row['dup']:>4} {row['stale']:>5} {row['cpu']:>6.1f}"
            f" {row['rss']:>8.1f} {ratio_fps:>6} {ratio_p50:>6}"
        )
        if row["tracebacks"]:
            print(f"      ({row['tracebacks']} tracebacks in the server's log)")


if __name__ == "__main__":
    main()
