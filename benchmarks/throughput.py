"""Throughput benchmark: N sockets follow one user; how fast do its changes reach them all, at what cost.

For each target, layer and socket count N, a fresh server process serves N
WebSockets held by a client process of their own (``clients.py``), all
following one user. The trigger is the same for every target: the example's
``updateUser`` mutation over HTTP. Measured, all in the same run:

* setup: seconds for N sockets to connect and subscribe;
* latency: 20 updates one at a time, each waiting until every socket has it;
  p50 and p99 of the time from the HTTP request to the last socket's frame;
* throughput: 100 updates back to back; frames delivered per second, from the
  first request to the last frame;
* lost, duplicated and stale (arrived after a later update's) frames;
* the server's CPU seconds during the throughput phase, and its memory per
  idle subscribed socket.

Targets: ``package`` is this package (the example's ``users`` stream, whole
objects); ``standard`` (modern engine only) is the standard Channels 4 way,
written for the comparison in tests/testproject/standard.py: the consumer
joins a group, a save is serialized once with the same serializer and sent
once to the group, the consumer forwards the text. Ratios compare the package
with ``standard`` on the same layer and N. Run it alone on the machine, inside
an engine's environment: ``tox -e bench-throughput`` (modern) or
``tox -e bench-throughput-legacy``.
"""

import argparse
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import databases  # noqa: E402
from client import create_user, graphql, subscription_request, unique, update_user  # noqa: E402
from reliability import rss_kib  # noqa: E402
from servers import ENGINE, LEGACY, Server, project_environment  # noqa: E402

REDIS_URL = os.environ.get("GDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
LATENCY_ROUNDS = 20
#: Seconds to wait for one update to reach every socket before calling the rest lost.
WAIT = 120


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clients:
    """The client process: its sockets, and word of each label that every socket has."""

    def __init__(self, server, count, mode, pk):
        path = "/subscriptions/" if mode == "package" else "/standard/"
        url = f"ws://127.0.0.1:{server.port}{path}"
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


def subscribe_all(server, channel_ids, pk):
    def one(channel_id):
        reply = graphql(server, subscription_request("userSubscription", channel_id, id=pk))
        assert reply["data"]["userSubscription"]["ok"], reply

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, channel_ids))


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


def measure(env, workdir, name, mode, count, rounds):
    """One fresh server, ``count`` sockets of ``mode``: the row of figures."""
    server = Server(env, workdir / f"{name}.log")
    try:
        pk = create_user(server, unique("bench"))
        base_rss = rss_kib(server)
        started = time.perf_counter()
        clients = Clients(server, count, mode, pk)
        if mode == "package":
            subscribe_all(server, clients.channel_ids, pk)
        setup = time.perf_counter() - started
        time.sleep(1)  # let confirmations settle
        per_socket = (rss_kib(server) - base_rss) / count
        triggers = {}
        for index in range(LATENCY_ROUNDS):
            label = f"l{index}"
            triggers[label] = time.time()
            update_user(server, pk, firstName=label)
            clients.wait_everywhere(label)
        cpu_before = cpu_seconds(server.process.pid)
        burst = [f"t{index}" for index in range(rounds)]
        first = time.time()
        for label in burst:
            update_user(server, pk, firstName=label)
        clients.wait_everywhere(burst[-1])
        time.sleep(0.5)  # a frame later than the last one would be a stale one
        cpu = cpu_seconds(server.process.pid) - cpu_before
        frames = clients.report()
        tracebacks = server.log().count("Traceback")
    finally:
        server.stop()
    found = arrivals_by_label(frames)
    lasts = sorted(max(found.get(label, [triggers[label]])) - triggers[label] for label in triggers)
    burst_times = [t for label in burst for t in found.get(label, [])]
    throughput = len(burst_times) / (max(burst_times) - first) if burst_times else 0.0
    lost, duplicated, stale = counts(frames, list(triggers) + burst)
    return {
        "setup": setup,
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


def targets(layers, modes):
    for layer in layers:
        for mode in modes:
            if mode == "package" or not LEGACY:
                yield mode, layer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", default="300,1000", help="comma-separated socket counts")
    parser.add_argument("--rounds", type=int, default=100, help="back-to-back updates per server")
    default_layers = "inmemory" if LEGACY else "inmemory,redis"
    parser.add_argument("--layers", default=default_layers, help="inmemory, redis, pubsub (modern)")
    parser.add_argument("--targets", default="standard,package", help="standard (modern), package")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sockets.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        made = databases.Databases(workdir)
        for count in sizes:
            for mode, layer in targets(args.layers.split(","), args.targets.split(",")):
                name = f"{mode}-{layer}-{count}"
                env = project_environment(made, name, layer, REDIS_URL)
                env["GDS_DEBUG"] = "0"
                if mode == "standard":
                    env["GDS_BENCH_STANDARD"] = "1"
                row = measure(env, workdir, name, mode, count, args.rounds)
                rows.append((count, mode, layer, row))
                print(f"  measured {name}", file=sys.stderr, flush=True)
        databases.forget_redis_keys(REDIS_URL)
    print(
        f"engine: {ENGINE}; {LATENCY_ROUNDS} spaced updates, {args.rounds} back to back; one server process"
    )
    header = (
        f"{'N':>5} {'target':<9} {'layer':<9} {'setup s':>7} {'p50 ms':>7} {'p99 ms':>7} {'frames/s':>9}"
        f" {'lost':>5} {'dup':>4} {'stale':>5} {'cpu s':>6} {'KiB/sock':>8} {'x std fps':>9} {'x std p50':>9}"
    )
    print(header)
    standard = {(count, layer): row for count, mode, layer, row in rows if mode == "standard"}
    for count, mode, layer, row in rows:
        base = standard.get((count, layer))
        ratio_fps = f"{row['fps'] / base['fps']:.2f}" if base and base["fps"] else "-"
        ratio_p50 = f"{row['p50'] / base['p50']:.2f}" if base and base["p50"] else "-"
        print(
            f"{count:>5} {mode:<9} {layer:<9} {row['setup']:>7.1f}"
            f" {row['p50'] * 1000:>7.0f} {row['p99'] * 1000:>7.0f}"
            f" {row['fps']:>9.0f} {row['lost']:>5} {row['dup']:>4} {row['stale']:>5} {row['cpu']:>6.1f}"
            f" {row['rss']:>8.1f} {ratio_fps:>9} {ratio_p50:>9}"
        )
        if row["tracebacks"]:
            print(f"      ({row['tracebacks']} tracebacks in the server's log)")


if __name__ == "__main__":
    main()
