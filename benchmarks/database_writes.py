"""Database-writes benchmark: what the triggers of ``ReportDatabaseWrites`` cost the writes they watch.

For each database (SQLite, then PostgreSQL), a fresh migrated database and one
Django process of the test project hold 10,000 articles (a followed model).
Each round runs every write twice, once with triggers on the articles' table
(``database_writes.install``) and once without, in turns, in autocommit:

* raw SQL, ``UPDATE`` of 10,000 rows (``cursor.execute``, as another program
  would): with triggers, the database logs each row in the same statement;
* ``save()`` of 200 articles one by one, through the ORM: with triggers, each
  save also names the table in ``OrmWrite`` and forgets it (two statements),
  and the triggers stay silent;
* ``QuerySet.update()`` of 1,000 rows, reported row by row by the package, the
  same two statements more.

Medians of the rounds, milliseconds, and the ratio, measured in the same run.
Deliveries happen after the commit, off the writing code's path, and are not
timed.

Then how soon a change reaches a socket: a test-project server (its reviews'
table has triggers; it polls its change log once a minute, so only the
database's notice can be quick) and one graphql-transport-ws socket following
reviews; each round times, from the moment it starts, a review inserted by
the database's command-line client (``sqlite3``, ``psql``: a new process, as
another program would be) until the socket holds its event, against the
baseline of a review saved through the ORM (an HTTP request to the server)
until the same. Run it alone on the machine: ``tox -e bench-database-writes``.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_writes import SETUP, Worker  # noqa: E402

from support import databases  # noqa: E402
from support.article_feed import run  # noqa: E402
from support.client import unique  # noqa: E402
from support.graphql_ws_client import WsSocket  # noqa: E402
from support.servers import Server, project_environment  # noqa: E402
from support.tables import print_table  # noqa: E402

WORKER = (
    SETUP
    + r"""
from django.db import connection
from graphene_django_subscriptions import database_writes


def tick():
    made[0] += 1
    return f"{made[0] // 3600 % 24:02d}:{made[0] // 60 % 60:02d}:{made[0] % 60:02d}"


def raw_update(rows):
    at = tick()

    def write():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE testproject_article SET at = %s WHERE id <= %s", [at, ids[rows - 1]])

    return write


def saves(rows):
    objs = list(Article.objects.filter(pk__lte=ids[rows - 1]))
    title = f"s{tick()}"

    def write():
        for obj in objs:
            obj.title = title
            obj.save()

    return write


def update(rows):
    at = tick()
    return lambda: Article.objects.filter(pk__lte=ids[rows - 1]).update(at=at)


def timed(write, triggers):
    (database_writes.install if triggers else database_writes.uninstall)(Article)
    outbox.flush(300)  # the last write's deliveries are done: they are not this one's cost
    gc.collect()
    started = time.perf_counter()
    write()
    took = time.perf_counter() - started
    outbox.flush(300)
    return took


WRITES = {"raw UPDATE": raw_update, "save()": saves, "update()": update}
for line in sys.stdin:  # one measurement per line: {"write", "rows", "reported"}
    asked = json.loads(line)
    print(timed(WRITES[asked["write"]](asked["rows"]), asked["reported"]), flush=True)
"""
)

#: ``(write, rows)`` of each row of the table, in the order they run.
WRITES = [("raw UPDATE", 10000), ("save()", 200), ("update()", 1000)]


def measure(kind, rounds):
    with tempfile.TemporaryDirectory() as scratch:
        databases.KIND = kind
        made = databases.Databases(Path(scratch))
        worker = Worker(made, kind, code=WORKER, name="database-writes")
        try:
            times = {(write, rows): ([], []) for write, rows in WRITES}
            for number in range(rounds):
                for write, rows in WRITES:
                    first = number % 2 == 0  # triggers first in one round, none first in the next
                    for triggers in (first, not first):
                        times[write, rows][0 if triggers else 1].append(worker.time(write, rows, triggers))
        finally:
            worker.close()
            made.drop_all()
    return times


def latency(kind, rounds):
    """``(other program, ORM)``: the seconds each round took from a write's start to its event."""
    with tempfile.TemporaryDirectory() as scratch:
        databases.KIND = kind
        made = databases.Databases(Path(scratch))
        env = project_environment(made, f"latency-{kind}")
        env["GDS_LIMITS"] = json.dumps({"CHANGE_LOG_POLL_SECONDS": 60})
        server = Server(env, Path(scratch) / "server.log")
        sock = WsSocket(server)
        try:
            sock.follow("1", "subscription { reviewChanges { action data { title } } }")
            took = ([], [])
            for number in range(rounds):
                first = number % 2 == 0  # the other program first in one round, the ORM first in the next
                for raw in (first, not first):
                    title = unique("latency")
                    started = time.perf_counter()
                    if raw:
                        insert = f"INSERT INTO testproject_review (title) VALUES ('{title}')"
                        databases.other_program(env["GDS_DATABASE"], insert)
                    else:
                        run(server, [{"create": "review", "as": "r", "set": {"title": title}}])
                    event = sock.recv()["payload"]["data"]["reviewChanges"]
                    took[0 if raw else 1].append(time.perf_counter() - started)
                    assert event == {"action": "CREATE", "data": {"title": title}}, event
            return took
        finally:
            sock.close()
            server.stop()
            made.drop_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--latency-rounds", type=int, default=20)
    args = parser.parse_args()
    table = []
    for kind in args.databases.split(","):
        for (write, rows), (triggered, plain) in measure(kind, args.rounds).items():
            ours, without = statistics.median(triggered), statistics.median(plain)
            table.append((kind, write, rows, f"{without * 1000:.1f}", f"{ours * 1000:.1f}",
                          f"{ours / without:.2f}"))  # fmt: skip
        print(f"  measured {kind}", file=sys.stderr, flush=True)
    print(f"medians of {args.rounds} rounds; the test project's Article (a followed model)")
    print_table(("database", "write", "rows", "no triggers ms", "triggers ms", "x no triggers"), table)
    table = []
    for kind in args.databases.split(","):
        raw, orm = (statistics.median(times) for times in latency(kind, args.latency_rounds))
        table.append((kind, f"{orm * 1000:.1f}", f"{raw * 1000:.1f}", f"{raw / orm:.2f}"))
        print(f"  measured {kind}'s latency", file=sys.stderr, flush=True)
    print(f"\nfrom a write's start to its event on a socket: medians of {args.latency_rounds} rounds")
    print_table(("database", "ORM save ms", "command line ms", "x ORM save"), table)


if __name__ == "__main__":
    main()
