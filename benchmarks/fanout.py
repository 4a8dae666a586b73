"""Fan-out benchmark: how long until every subscribed socket has a change.

For each socket count N, three sets of N sockets are measured one after the
other, each set following its own user (update, every field). A timing runs
from the start of an HTTP request until the last socket of the set has its
frame; each column is the median over several rounds, all measured in the same
run against the same server:

* baseline: a request that only sends ready-made text to the "no rule" sockets'
  group (the engine's bare fan-out, plus one HTTP request);
* no rule: N anonymous sockets on a stream without a per-recipient rule (the
  test stream "counted"), changed through the example's update mutation (save,
  commit, look up the live groups, serialize once, send);
* rule, 1 audience: N anonymous sockets on the example's "users" stream, whose
  ``get_queryset(user)`` rule is checked once, since they share one audience;
* rule, N audiences: N sockets, each opened by its own logged-in user, on the
  "users" stream: the rule is checked, and the user serialized, once per user.

The ratios show what a change adds to the bare fan-out (no rule / baseline) and
what a per-recipient rule adds to a stream without one (rule / no rule). Run it
inside an engine's environment, e.g. ``tox -e bench-legacy``.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.client import Socket, create_user, login, post, subscribe, unique, update_user  # noqa: E402
from support.servers import ENGINE, Server, django_admin, environment  # noqa: E402


def elapsed_until_all_received(sockets, trigger):
    start = time.perf_counter()
    trigger()
    for sock in sockets:
        sock.recv()
    return time.perf_counter() - start


def follow_new_user(server, sockets, count, field, logged_in=False):
    """Open ``count`` sockets (added to ``sockets``) that follow a new user on ``field``; return its id.

    With ``logged_in``, each socket is opened, and subscribes, as its own new user.
    Sockets open 16 at a time: an idle socket answers no ping, and a slow set-up
    would let the server drop the first ones (Channels 1's daphne after 50 s).
    """
    pk = create_user(server, unique("bench"))

    def open_one(_):
        session, cookie = login(server, unique("viewer")) if logged_in else (None, None)
        sock = Socket(server, cookie=cookie)
        sockets.append(sock)
        subscribe(server, sock, field=field, id=pk, session=session)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(open_one, range(count)))
    return pk


def median_times(server, count, rounds, field, logged_in=False, baseline=False):
    """Median seconds for a set of ``count`` sockets: of the change, after the baseline's when asked.

    Each set follows its own user and is measured on its own, so that no
    socket sits unread while another set is timed.
    """
    sockets = []
    try:
        pk = follow_new_user(server, sockets, count, field, logged_in)
        triggers = []
        if baseline:
            group = f"gds.update.id-{pk}.all.counted"
            text = json.dumps({"stream": "counted", "payload": {"action": "update", "model": "auth.user"}})
            triggers.append(
                lambda round_: post(server, "/testing/broadcast/", {"group": group, "text": text})
            )
        triggers.append(lambda round_: update_user(server, pk, firstName=f"r{round_}"))
        columns = [[] for _ in triggers]
        for round_ in range(rounds):
            for column, trigger in zip(columns, triggers):
                column.append(elapsed_until_all_received(sockets, partial(trigger, round_)))
        return [statistics.median(column) for column in columns]
    finally:
        for sock in sockets:
            sock.close()


def measure(server, count, rounds):
    """Median seconds of the baseline, no rule, rule with 1 audience and rule with N audiences."""
    base, plain = median_times(server, count, rounds, "countedSubscription", baseline=True)
    (shared,) = median_times(server, count, rounds, "userSubscription")
    (own,) = median_times(server, count, rounds, "userSubscription", logged_in=True)
    return base, plain, shared, own


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
