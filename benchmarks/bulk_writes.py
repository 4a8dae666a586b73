"""Bulk-write benchmark: what hearing the ORM's bulk writes costs them, against Django's own methods.

For each database (SQLite, then PostgreSQL), a fresh migrated database and one
Django process of the test project (the in-memory layer; no server, no socket:
a write's own cost) hold 10,000 articles, a followed model with nine streams
(two of them scoped, whose scope a row-by-row report asks of each row). Each
round runs every write twice, once reported by the package and once as
Django alone runs it (the package's methods pass straight through), in turns,
each in autocommit as a view would call it, on the first rows by key:

* ``update()`` of 10,000 rows: more than ``BULK_WRITE_MAX_CHANGES`` (1000), so
  one RESYNC per stream (the issue's figure: at most 2x Django's time);
* ``update()``, ``bulk_update()`` and ``bulk_create()`` of 1,000 rows: reported
  row by row, each row judged and logged as a save is;
* ``update()`` of 10,000 rows, 100 of them followed one by one (a subscription
  record each, as a socket following one article leaves): those 100 read,
  judged and logged for their subscribers, one RESYNC for the others;
* ``delete()`` of 10,000 bookmarks (a model whose one stream hears bulk
  writes): one RESYNC, the rows deleted without being loaded; against Django
  without the package's delete receivers, which is what lets Django delete
  them so (with a receiver connected, Django loads every row first).

The table gives the median milliseconds of the rounds and the ratio, measured
in the same run, and the most Python memory each write held at once (one more
run of each, traced with tracemalloc, not timed). Deliveries happen after the
commit, on the outbox's thread, off the writing code's path: each write waits
for the outbox to be idle (and for a garbage collection) before it starts, and
its deliveries are not timed.

Run it alone on the machine, in a modern environment: ``tox -e bench-bulk-writes``.
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
from support.tables import print_table  # noqa: E402

#: The start of a worker's code: Django set up, 10,000 articles (``ids``, by key), a counter (``made``).
SETUP = r"""
import gc, json, sys, time
import django
django.setup()
import testproject.streams  # noqa: F401  (declares the streams: the package follows Article)
from django.contrib.auth.models import User
from graphene_django_subscriptions.outbox import outbox
from testproject.models import Article

author = User.objects.create(username="bench-author")
Article.objects.bulk_create([Article(title=f"t{n}", author=author) for n in range(10000)], batch_size=500)
ids = list(Article.objects.order_by("pk").values_list("pk", flat=True))
made = [0]
"""

WORKER = (
    SETUP
    + r"""
import tracemalloc
from django.db.models.signals import post_delete, pre_delete
from graphene_django_subscriptions import bulk_writes, notifications
from graphene_django_subscriptions.models import SubscriberSocket, SubscriptionRecord
from testproject.models import Bookmark


def first(rows):
    # The first ``rows`` articles, by a range (an IN of 10,000 keys would cost more than the write).
    return Article.objects.filter(pk__lte=ids[rows - 1])


def update(rows):
    made[0] += 1
    at = f"{made[0] // 3600 % 24:02d}:{made[0] // 60 % 60:02d}:{made[0] % 60:02d}"
    return lambda: first(rows).update(at=at)


def bulk_update(rows):
    objs = list(first(rows))
    made[0] += 1
    for obj in objs:
        obj.title = f"u{made[0]}-{obj.pk}"
    return lambda: Article.objects.bulk_update(objs, ["title"])


def bulk_create(rows):
    made[0] += 1
    objs = [Article(title=f"c{made[0]}-{n}", author=author) for n in range(rows)]
    return lambda: Article.objects.bulk_create(objs)


def update_followed(rows):
    # 100 of the rows followed one by one, each by a record of its own (made and dropped untimed).
    socket, _ = SubscriberSocket.objects.get_or_create(channel_name="bench-followers")
    step = rows // 100
    records = [
        SubscriptionRecord(
            socket=socket, stream="articles", action="update", object_key=str(pk), fields_key="b"
        )
        for pk in ids[:rows:step]
    ]
    SubscriptionRecord.objects.bulk_create(records)
    return update(rows)


def delete(rows):
    token = bulk_writes._reporting.set(True)  # making them is not measured, nor reported
    Bookmark.objects.bulk_create([Bookmark(page=n) for n in range(rows)], batch_size=500)
    bulk_writes._reporting.reset(token)
    return lambda: Bookmark.objects.all().delete()


def without_receivers(write):
    # ``write`` as Django runs it where the package does not listen to the bookmarks' deletes.
    def run():
        uid = "graphene_django_subscriptions:testproject.bookmark"
        pre_delete.disconnect(sender=Bookmark, dispatch_uid=uid)
        post_delete.disconnect(sender=Bookmark, dispatch_uid=uid)
        try:
            write()
        finally:
            notifications.watch(Bookmark)

    return run


def timed(write, reported, memory):
    outbox.flush(300)  # the last write's deliveries are done: they are not this one's cost
    gc.collect()  # nor the last write's garbage
    # Django's own method: the package's patched one passes straight through while this is set.
    token = None if reported else bulk_writes._reporting.set(True)
    if memory:  # the most Python memory the write held at once, in bytes (traced: not timed)
        tracemalloc.start()
    started = time.perf_counter()
    write()
    took = time.perf_counter() - started
    if memory:
        took = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if token is not None:
        bulk_writes._reporting.reset(token)
    outbox.flush(300)
    return took


WRITES = {
    "update": update,
    "update_followed": update_followed,
    "bulk_update": bulk_update,
    "bulk_create": bulk_create,
    "delete": delete,
}
for line in sys.stdin:  # one measurement per line: {"write", "rows", "reported", "memory"}
    asked = json.loads(line)
    write = WRITES[asked["write"]](asked["rows"])
    if asked["write"] == "delete" and not asked["reported"]:
        write = without_receivers(write)
    took = timed(write, asked["reported"], asked["memory"])
    if asked["write"] == "bulk_create":  # keep the table as it was, without a delete to report
        Article.objects.filter(title__startswith=f"c{made[0]}-")._raw_delete(Article.objects.db)
    SubscriptionRecord.objects.all().delete()  # update_followed's
    print(took, flush=True)
"""
)

#: ``(write, rows)`` of each row of the table, in the order they run.
WRITES = [
    ("update", 10000),
    ("update_followed", 10000),
    ("update", 1000),
    ("bulk_update", 1000),
    ("bulk_create", 1000),
    ("delete", 10000),
]


class Worker:
    """One Django process that makes the writes it is asked for, timing each."""

    def __init__(self, made, kind, code=WORKER, name="bulk-writes"):
        database = made.new(f"{name}-{kind}")
        env = environment("testproject.settings", database)
        env["GDS_DEBUG"] = "0"  # DEBUG's query log would weigh on both sides
        django_admin(env, "migrate", "--noinput")
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
        self.process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(CWD), **pipes)

    def time(self, write, rows, reported, memory=False):
        """Seconds ``write`` of ``rows`` took (``reported``: by the package, or, for triggers, with them);
        ``memory``: the most bytes it held at once instead."""
        asked = {"write": write, "rows": rows, "reported": reported, "memory": memory}
        self.process.stdin.write(json.dumps(asked) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark's Django process ended early")
        return float(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(60)


def measure(kind, rounds):
    with tempfile.TemporaryDirectory() as scratch:
        databases.KIND = kind
        made = databases.Databases(Path(scratch))
        worker = Worker(made, kind)
        try:
            times = {(write, rows): ([], []) for write, rows in WRITES}
            for number in range(rounds):
                for write, rows in WRITES:
                    first = number % 2 == 0  # the package first in one round, Django first in the next
                    for reported in (first, not first):
                        times[write, rows][0 if reported else 1].append(worker.time(write, rows, reported))
            peaks = {(write, rows): [worker.time(write, rows, on, memory=True) for on in (True, False)]
                     for write, rows in WRITES}  # fmt: skip
        finally:
            worker.close()
            made.drop_all()
    return times, peaks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    table = []
    for kind in args.databases.split(","):
        times, peaks = measure(kind, args.rounds)
        for (write, rows), (reported, plain) in times.items():
            ours, django = statistics.median(reported), statistics.median(plain)
            how = "one RESYNC per stream" if rows > 1000 else "row by row"
            label = write
            if write == "update_followed":
                label, how = "update", "100 rows + RESYNC"
            memory = [f"{peak / 2**20:.1f}" for peak in reversed(peaks[write, rows])]
            table.append((kind, f"{label}()", rows, how, f"{django * 1000:.1f}", f"{ours * 1000:.1f}",
                          f"{ours / django:.2f}", *memory))  # fmt: skip
        print(f"  measured {kind}", file=sys.stderr, flush=True)
    print(
        f"medians of {args.rounds} rounds; BULK_WRITE_MAX_CHANGES 1000; the test project's Article "
        "(nine streams); delete(): its Bookmark (one stream)"
    )
    columns = ("database", "write", "rows", "reported as", "Django ms", "reported ms", "x Django")
    print_table((*columns, "Django MiB", "reported MiB"), table)
    print(
        "notes: the issue's figure: update() of 10,000 rows at most 2x Django's own time. MiB: the most "
        "Python memory the write held at once (tracemalloc, one untimed run each)."
    )


if __name__ == "__main__":
    main()
