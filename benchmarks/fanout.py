"""Fan-out benchmark: how long until every subscribed socket has a change.

For each socket count N, three sets of N sockets are opened, each set following
its own user (update, every field), so that a change reaches one set only. A
timing runs from the start of an HTTP request until the last socket of the set
has its frame; each column is the median over several rounds, all measured in
the same run against the same server:

* baseline: a request that only sends ready-made text to the "no rule" sockets'
  group (the channel layer's own fan-out, plus one HTTP request);
* no rule: N anonymous sockets on a stream without a per-recipient rule (the
  test stream "counted"), changed through the example's update mutation (save,
  commit, look up the live groups, serialize once, send);
* rule, 1 audience: N anonymous sockets on the example's "users" stream, whose
  ``get_queryset(user)`` rule is checked once, since they share one audience;
* rule, N audiences: N sockets, each opened by its own logged-in user, on the
  "users" stream: the rule is checked, and the user serialized, once per user.

The ratios show what the package adds to the layer (no rule / baseline) and
what a per-recipient rule adds to a stream without one (rule / no rule). Run it
inside an engine's environment, e.g. ``tox -e bench-legacy``.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from client import Socket, create_user, login, post, subscribe, unique, update_user  # noqa: E402
from servers import ENGINE, Server, django_admin, environment  # noqa: E402


def elapsed_until_all_received(sockets, trigger):
    start = time.perf_counter()
    trigger()
    for sock in sockets:
        sock.recv()
    return time.perf_counter() - start


def follow_new_user(server, sockets, count, field, logged_in=False):
    """Open ``count`` sockets (added to ``sockets``) that follow a new user on ``field``; return its id.

    With ``logged_in``, each socket is opened, and subscribes, as its own new user.
    """
    pk = create_user(server, unique("bench"))
    for _ in range(count):
        session, cookie = login(server, unique("viewer")) if logged_in else (None, None)
        sock = Socket(server, cookie=cookie)
        sockets.append(sock)
        subscribe(server, sock, field=field, id=pk, session=session)
    return pk


def measure(server, count, rounds):
    """Median seconds of the baseline, no rule, rule with 1 audience and rule with N audiences."""
    plain, shared, own = [], [], []
    try:
        plain_pk = follow_new_user(server, plain, count, "countedSubscription")
        shared_pk = follow_new_user(server, shared, count, "userSubscription")
        own_pk = follow_new_user(server, own, count, "userSubscription", logged_in=True)
        group = f"gds.update.id-{plain_pk}.all.counted"
        text = json.dumps({"stream": "counted", "payload": {"action": "update", "model": "auth.user"}})
        broadcast = partial(post, server, "/testing/broadcast/", {"group": group, "text": text})
        sets = [(plain, plain_pk), (shared, shared_pk), (own, own_pk)]
        timings = [[] for _ in range(1 + len(sets))]
        for round_ in range(rounds):
            timings[0].append(elapsed_until_all_received(plain, broadcast))
            for column, (sockets, pk) in zip(timings[1:], sets):
                change = partial(update_user, server, pk, firstName=f"r{round_}")
                column.append(elapsed_until_all_received(sockets, change))
        return [statistics.median(column) for column in timings]
    finally:
        for sock in plain + shared + own:
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
            print(f"engine: {ENGINE}, in-memory channel layer, {args.rounds} rounds (medians, ms)")
            print(
                f"{'sockets':>8} {'baseline':>9} {'no rule':>8} {'rule-1':>8} {'rule-N':>8}"
                f" {'no rule/base':>13} {'rule-1/no rule':>15} {'rule-N/no rule':>15}"
            )
            for count in (int(n) for n in args.sockets.split(",")):
                base, plain, shared, own = measure(server, count, args.rounds)
                print(
                    f"{count:>8} {base * 1000:>9.1f} {plain * 1000:>8.1f} {shared * 1000:>8.1f}"
                    f" {own * 1000:>8.1f} {plain / base:>13.2f} {shared / plain:>15.2f} {own / plain:>15.2f}"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
