"""Fan-out benchmark: how long until every subscribed socket has a change.

For each socket count, all sockets follow the same user with every field.
Two timings, from the start of an HTTP request until the last socket has its
frame, medians over several rounds, measured in the same run:

* baseline: a request that only sends ready-made text to the sockets' group
  (the channel layer's own fan-out, plus one HTTP request);
* package: the example's update mutation (save, commit, look up the live
  groups, serialize once, send).

The ratio package / baseline is the cost of the package's work on top of the
layer. Run it inside an engine's environment, e.g. ``tox -e bench-legacy``.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from client import Socket, create_user, post, subscribe, unique, update_user  # noqa: E402
from servers import ENGINE, Server, django_admin, environment  # noqa: E402


def elapsed_until_all_received(sockets, trigger):
    start = time.perf_counter()
    trigger()
    for sock in sockets:
        sock.recv()
    return time.perf_counter() - start


def measure(server, count, rounds):
    sockets = [Socket(server) for _ in range(count)]
    try:
        pk = create_user(server, unique("bench"))
        for sock in sockets:
            subscribe(server, sock, id=pk)
        group = f"gds.update.id-{pk}.all.users"
        text = json.dumps({"stream": "users", "payload": {"action": "update", "model": "auth.user"}})
        baseline, package = [], []
        for round_ in range(rounds):
            baseline.append(
                elapsed_until_all_received(
                    sockets, lambda: post(server, "/testing/broadcast/", {"group": group, "text": text})
                )
            )
            package.append(
                elapsed_until_all_received(
                    sockets, lambda name=f"r{round_}": update_user(server, pk, firstName=name)
                )
            )
        return statistics.median(baseline), statistics.median(package)
    finally:
        for sock in sockets:
            sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", default="1,10,100,250", help="comma-separated socket counts")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        env = environment("testproject.settings", Path(workdir) / "bench.sqlite3")
        django_admin(env, "migrate", "--noinput")
        server = Server(env, Path(workdir) / "server.log")
        try:
            print(f"engine: {ENGINE}, in-memory channel layer, {args.rounds} rounds (medians)")
            print(f"{'sockets':>8} {'baseline ms':>12} {'package ms':>11} {'ratio':>6}")
            for count in (int(n) for n in args.sockets.split(",")):
                base, pkg = measure(server, count, args.rounds)
                print(f"{count:>8} {base * 1000:>12.1f} {pkg * 1000:>11.1f} {pkg / base:>6.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
