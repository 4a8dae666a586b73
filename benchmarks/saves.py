"""Save benchmark: what the change log costs a ``save()``.

For each database (SQLite, then PostgreSQL) and each setting of ``CHANGE_LOG``
(off, then on), a fresh migrated database and one Django process of the test
project (the in-memory layer; no server, no socket: a save's own cost) create
then update articles, a followed model with three streams, each save a
transaction of its own, from 1 thread and from 4 at once. The two settings'
processes take turns, round by round. The table gives saves per second (the
median of the rounds) and the ratio log on / log off, measured in the same run.
On PostgreSQL the log also numbers each committing transaction under a lock,
so the 4-thread row shows what that lock costs.

Run it alone on the machine, in a modern environment: ``tox -e bench-saves``.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import databases  # noqa: E402
from support.servers import CWD, django_admin, environment  # noqa: E402

WORKER = r"""
import sys, threading, time
import django
django.setup()
from django.contrib.auth.models import User
from django.db import connection
from graphene_django_subscriptions.outbox import outbox
from testproject.models import Article

count, threads = map(int, sys.argv[1:3])
author = User.objects.create(username="bench-author")

def save_many(number):
    for index in range(number):
        article = Article.objects.create(title=f"t{index}", author=author)
        article.title = f"u{index}"
        article.save()
    connection.close()

def one_round():
    each = count // threads
    workers = [threading.Thread(target=save_many, args=(each,)) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    took = time.perf_counter() - started
    outbox.flush(120)  # the next round starts with an idle outbox
    return 2 * each * threads / took

for line in sys.stdin:  # one round per line: the two settings take turns
    print(one_round(), flush=True)
"""


class Worker:
    """One Django process that saves a round of articles each time it is asked."""

    def __init__(self, made, kind, log, threads, count):
        database = made.new(f"saves-{kind}-{'on' if log else 'off'}-{threads}")
        env = environment("testproject.settings", database)
        django_admin(env, "migrate", "--noinput")
        env["GDS_LIMITS"] = json.dumps({"CHANGE_LOG": log})
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(count), str(threads)],
            env=env,
            cwd=str(CWD),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def round(self):
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def stop(self):
        self.process.stdin.close()
        self.process.wait(60)


def saves_per_second(made, kind, threads, count, rounds):
    """Median saves per second with the log off and on, their rounds taking turns (after one warm-up each)."""
    workers = [Worker(made, kind, log, threads, count) for log in (False, True)]
    try:
        results = ([], [])
        for round in range(rounds + 1):
            for worker, times in zip(workers, results):
                speed = worker.round()
                if round:
                    times.append(speed)
        return [statistics.median(times) for times in results]
    finally:
        for worker in workers:
            worker.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=400, help="saves per round (half creates, half updates)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"{'database':<10} {'threads':>7} {'log off /s':>11} {'log on /s':>10} {'on/off':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.databases.split(","):
            databases.KIND = kind
            made = databases.Databases(Path(folder))
            try:
                for threads in (1, 4):
                    off, on = saves_per_second(made, kind, threads, args.saves // 2, args.rounds)
                    print(f"{kind:<10} {threads:>7} {off:>11.0f} {on:>10.0f} {on / off:>7.2f}", flush=True)
            finally:
                made.drop_all()


if __name__ == "__main__":
    main()
