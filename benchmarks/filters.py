"""Filter benchmark: a server's CPU per change when N sockets follow one stream with filters, or without.

One server of the test project (daphne, modern engine; in-memory channel layer,
or Redis with ``--layer redis``) holds N graphql-transport-ws sockets (the
``websockets`` library, one event loop in this process) on
``filteredArticleChanges`` (the test stream "filtered-articles",
tests/testproject/streams.py), each selecting ``action cause data { id title }``.
N articles are made first, titled ``t0`` ... ``t<N-1>`` and written by ten
authors in turn. Then, in the same run and against the same server, one
scenario after the other (each with N new sockets, which close at its end):

* none: no socket follows anything: what a change costs the server by itself
  (the HTTP request, the save and its log entry, reading the log);
* unfiltered: every socket follows the whole stream: each change reaches all N;
* 10 filters: socket i follows ``author: "<author i mod 10>"``: each change is
  judged against 10 distinct filters and reaches the N/10 sockets of its author;
* N filters: socket i follows ``title: "t<i>"`` (an exact filter): each change
  is judged against N distinct filters and reaches the one socket of its title;
* N in filters: socket i follows ``author_In: ["<author i mod 10>", "<an id no
  author has>"]`` (N distinct ``in`` filters): each change is judged against the
  N/10 filters that list its author, found by its value, and reaches their sockets;
* 10 queried filters: socket i follows ``queriedArticleChanges(author_Username:
  "author<i mod 10>")`` (the test stream "queried-articles"): a filter across a
  relation, which the database judges (one query for the 10, before the update
  and after it, in the saving request); each change reaches the N/10 sockets of
  its author's name.

Every scenario makes the same changes: change k sets the time ``at`` (which no
filter reads) of article k mod N, over the test project's ``/testing/changes/``,
one request after the other. A round makes ``--changes`` of them and ends when
every socket has every event it is due (each checked: the article and title it
follows, action UPDATE, cause UPDATED); its figures are the server process's CPU
seconds (utime + stime from /proc/<pid>/stat) and the wall time from the first
request to the last event, each divided by the changes. A row gives the medians
of ``--rounds`` rounds, after ``--warmup`` changes that are not measured. One more
socket, which follows nothing, stays open all along: the server serves (reads
its change log) in every scenario alike.

"x unfiltered" compares each row's CPU per change with the unfiltered row's
(the issue's targets: 10 filters at most 1.5x, N filters at most 2x); "x above
none" compares them once the no-socket row's CPU is taken from both (what
delivery alone costs). The sockets' client runs on the same machine: the wall
times include its reading. Run it alone on the machine (two cores: anything
beside it is measured too), in the modern environment: ``tox -e bench-filters``.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import databases  # noqa: E402
from support.servers import ENGINE, Server, project_environment  # noqa: E402
from support.tables import print_table  # noqa: E402

REDIS_URL = os.environ.get("GDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
FIELD = "filteredArticleChanges"
STREAM = "filtered-articles"
QUERY = "subscription { %s%s { action cause data { id title } } }"
#: The stream whose filters the database judges (across a relation: the author's username).
QUERIED_FIELD = "queriedArticleChanges"
#: The first of the ids no author has (an ``in`` filter lists one, to make each socket's filter its own).
NO_AUTHOR = 900000
#: Sockets that open at the same moment.
OPENING = 50
#: Seconds to wait for the events of a round, after its last request, before calling the rest lost.
WAIT = 120
#: The scenarios in the order they run, and what their rows are called.
SCENARIOS = {
    "none": "none",
    "unfiltered": "unfiltered",
    "authors": "10 filters",
    "titles": "N filters",
    "listed": "N in filters",
    "queried": "10 queried filters",
}
#: The issue's targets: the most CPU per change a scenario may take, as a multiple of the unfiltered one's.
TARGETS = {"authors": 1.5, "titles": 2.0}


def cpu_seconds(pid):
    """User and system CPU seconds process ``pid`` has taken so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(http, server, path, body):
    response = http.post(f"{server.http}{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def make_articles(http, server, count, authors):
    """``count`` articles titled ``t0``, ``t1``..., by ``authors`` in turn; their ids, in that order."""
    ids = []
    for start in range(0, count, 100):
        steps = [
            {
                "create": "article",
                "as": f"t{n}",
                "set": {"title": f"t{n}", "author_id": authors[n % len(authors)]},
            }
            for n in range(start, min(count, start + 100))
        ]
        made = post(http, server, "/testing/changes/", {"steps": steps, "atomic": True})["ids"]
        ids += [made[step["as"]] for step in steps]
    return ids


def live_groups(server):
    """The stream's groups that have members in the server process."""
    table = requests.get(f"{server.http}/testing/groups/", timeout=60).json()
    return [name for name in table if name.endswith("." + STREAM)]


class Tally:
    """The events a scenario's sockets are still due, and those they should not have had."""

    def __init__(self):
        self.due = 0
        self.wrong = 0  # events of an article a socket does not follow, doubled, or misread
        self.other = 0  # messages other than ``next`` (errors, completes), sockets the server closed
        self.last = None  # perf_counter() of the last event due
        self.done = asyncio.Event()

    def expect(self, count):
        """``count`` more events are due."""
        self.due += count
        if self.due:
            self.done.clear()
        else:
            self.done.set()

    def arrived(self):
        self.due -= 1
        if not self.due:
            self.last = time.perf_counter()
            self.done.set()


class Follower:
    """One socket that follows ``field`` with ``arguments`` ("" or "(author: ...)").

    ``waiting`` holds, by article id, how many events of it the socket is due.
    """

    def __init__(self, url, field, arguments, titles, tally):
        self.url = url
        self.field = field
        self.arguments = arguments
        self.titles = titles  # {article id: its title}
        self.tally = tally
        self.waiting = {}
        self.ws = None
        self.listening = None

    async def open(self, gate, subscribe=True):
        async with gate:
            self.ws = await websockets.connect(
                self.url,
                subprotocols=["graphql-transport-ws"],
                open_timeout=120,
                ping_interval=None,
                max_size=None,
                max_queue=None,
            )
            await self._send({"type": "connection_init"})
            reply = json.loads(await self.ws.recv())
            assert reply == {"type": "connection_ack"}, reply
            if subscribe:
                query = QUERY % (self.field, self.arguments)
                await self._send({"id": "1", "type": "subscribe", "payload": {"query": query}})
                # Served in order: the pong comes once the subscription is recorded.
                await self._send({"type": "ping"})
                reply = json.loads(await self.ws.recv())
                assert reply == {"type": "pong"}, (self.arguments, reply)
        self.listening = asyncio.ensure_future(self._listen())

    async def _send(self, message):
        await self.ws.send(json.dumps(message))

    async def _listen(self):
        try:
            async for text in self.ws:
                self._read(json.loads(text))
        except websockets.ConnectionClosed:
            pass
        self.tally.other += 1  # only ``close`` ends a socket

    def _read(self, message):
        if message.get("type") != "next":
            self.tally.other += 1
            return
        event = message["payload"]["data"][self.field]
        data = event["data"] or {}
        pk = str(data.get("id"))
        if (
            self.waiting.get(pk, 0) > 0
            and (event["action"], event["cause"]) == ("UPDATE", "UPDATED")
            and data.get("title") == self.titles.get(pk)
        ):
            self.waiting[pk] -= 1
            self.tally.arrived()
        else:
            self.tally.wrong += 1

    def expect(self, pk):
        self.waiting[pk] = self.waiting.get(pk, 0) + 1

    async def close(self):
        if self.listening is not None:
            self.listening.cancel()
        if self.ws is not None:
            await self.ws.close()


def arguments_of(scenario, index, authors):
    """``(field, filter arguments)`` of socket ``index`` in ``scenario``."""
    if scenario == "authors":
        return FIELD, '(author: "%s")' % authors[index % len(authors)]
    if scenario == "titles":
        return FIELD, '(title: "t%d")' % index
    if scenario == "listed":
        return FIELD, '(author_In: ["%s", "%d"])' % (authors[index % len(authors)], NO_AUTHOR + index)
    if scenario == "queried":
        return QUERIED_FIELD, '(author_Username: "author%d")' % (index % len(authors))
    return FIELD, ""


def audiences(scenario, sockets, articles, authors):
    """``{article index: [indexes of the sockets that hear of its changes]}``."""
    if scenario == "none":
        return {n: [] for n in range(articles)}
    if scenario == "unfiltered":
        everyone = list(range(sockets))
        return {n: everyone for n in range(articles)}
    if scenario in ("authors", "listed", "queried"):
        by_author = [list(range(first, sockets, len(authors))) for first in range(len(authors))]
        return {n: by_author[n % len(authors)] for n in range(articles)}
    return {n: [n] if n < sockets else [] for n in range(articles)}


class Changes:
    """Changes to the articles, one request after the other: change k sets ``at`` of article k mod N.

    Each change of the run sets a time it has not set before (a number of seconds).
    """

    def __init__(self, server, ids):
        self.server = server
        self.ids = ids
        self.made = 0
        self.http = requests.Session()

    def articles(self, count):
        """The indexes of the articles the next ``count`` changes change."""
        return [(self.made + k) % len(self.ids) for k in range(count)]

    def make(self, count):
        for index in self.articles(count):
            seconds = self.made % 86400
            at = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            steps = [
                {"load": "article", "pk": self.ids[index], "as": "a"},
                {"update": "a", "set": {"at": at}},
            ]
            post(self.http, self.server, "/testing/changes/", {"steps": steps})
            self.made += 1


async def one_round(server, changes, count, crowd, heard_by, tally):
    """Make ``count`` changes; ``(CPU seconds, wall seconds, events due, events lost)`` of the round."""
    due = 0
    for index in changes.articles(count):
        pk = str(changes.ids[index])
        for socket in heard_by[index]:
            crowd[socket].expect(pk)
            due += 1
    tally.expect(due)
    cpu = cpu_seconds(server.process.pid)
    started = time.perf_counter()
    await asyncio.to_thread(changes.make, count)
    requested = time.perf_counter()
    try:
        await asyncio.wait_for(tally.done.wait(), WAIT)
    except asyncio.TimeoutError:
        pass
    cpu = cpu_seconds(server.process.pid) - cpu
    lost = tally.due
    ended = tally.last if not lost and due else requested
    await asyncio.sleep(0.5)  # what comes later than the last event due is counted as wrong
    if lost:  # not due in the next round
        for follower in crowd:
            follower.waiting.clear()
        tally.due = 0
    return cpu, ended - started, due, lost


async def scenario_row(server, scenario, args, ids, authors, changes):
    """Open the scenario's sockets, make its rounds of changes, close them: its figures."""
    sockets = 0 if scenario == "none" else args.sockets
    url = f"ws://127.0.0.1:{server.port}/graphql/"
    tally = Tally()
    titles = {str(pk): f"t{n}" for n, pk in enumerate(ids)}
    crowd = [Follower(url, *arguments_of(scenario, i, authors), titles, tally) for i in range(sockets)]
    gate = asyncio.Semaphore(OPENING)
    opening = time.perf_counter()
    await asyncio.gather(*(follower.open(gate) for follower in crowd))
    opened = time.perf_counter() - opening
    try:
        heard_by = audiences(scenario, sockets, len(ids), authors)
        await one_round(server, changes, args.warmup, crowd, heard_by, tally)
        rounds = [
            await one_round(server, changes, args.changes, crowd, heard_by, tally) for _ in range(args.rounds)
        ]
    finally:
        await asyncio.gather(*(follower.close() for follower in crowd))
    deadline = time.monotonic() + WAIT
    while live_groups(server):  # the next scenario starts once these sockets are forgotten
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sockets of {scenario!r} still have groups: {live_groups(server)[:5]}")
        await asyncio.sleep(0.2)
    return {
        "sockets": sockets,
        "filters": {
            "none": "-",
            "unfiltered": 0,
            "authors": min(len(authors), sockets),
            "queried": min(len(authors), sockets),
        }.get(scenario, sockets),
        "opened": opened,
        "cpu": statistics.median(cpu for cpu, _, _, _ in rounds) / args.changes,
        "wall": statistics.median(wall for _, wall, _, _ in rounds) / args.changes,
        "events": sum(due for _, _, due, _ in rounds) / (args.changes * args.rounds),
        "lost": sum(lost for _, _, _, lost in rounds),
        "wrong": tally.wrong,
        "other": tally.other,
    }


async def run(server, args, scenarios):
    http = requests.Session()
    authors = [
        post(http, server, "/testing/user/", {"username": f"author{n}"})["id"] for n in range(args.authors)
    ]
    ids = make_articles(http, server, args.sockets, authors)
    # A socket that follows nothing: the server serves, and reads its change log, in every scenario.
    bystander = Follower(f"ws://127.0.0.1:{server.port}/graphql/", FIELD, "", {}, Tally())
    await bystander.open(asyncio.Semaphore(1), subscribe=False)
    changes = Changes(server, ids)
    rows = {}
    try:
        for scenario in scenarios:
            rows[scenario] = await scenario_row(server, scenario, args, ids, authors, changes)
            print(f"  measured {scenario}", file=sys.stderr, flush=True)
    finally:
        await bystander.close()
    return rows


def ratio(value, base):
    return f"{value / base:.2f}" if base and base > 0 else "-"


def report(rows, args, layer, tracebacks):
    unfiltered = rows.get("unfiltered")
    none = rows.get("none")
    table = []
    for scenario, row in rows.items():
        above = "-"
        if none is not None and unfiltered is not None and scenario != "none":
            above = ratio(row["cpu"] - none["cpu"], unfiltered["cpu"] - none["cpu"])
        table.append(
            (
                SCENARIOS[scenario],
                row["sockets"],
                row["filters"],
                f"{args.rounds}x{args.changes}",
                f"{row['events']:.1f}",
                f"{row['cpu'] * 1000:.2f}",
                ratio(row["cpu"], unfiltered["cpu"]) if unfiltered else "-",
                above,
                f"{row['wall'] * 1000:.2f}",
                f"{row['opened']:.1f}",
                row["lost"],
                row["wrong"] + row["other"],
            )
        )
    print(
        f"engine: {ENGINE}, {layer} channel layer, {args.sockets} sockets a scenario, {args.authors} authors;"
        f" medians of {args.rounds} rounds of {args.changes} changes, after {args.warmup} not measured"
    )
    print_table(
        (
            "scenario",
            "sockets",
            "distinct filters",
            "changes",
            "events/change",
            "server CPU ms/change",
            "x unfiltered",
            "x above none",
            "wall ms/change",
            "open s",
            "lost",
            "wrong",
        ),
        table,
    )
    print(
        "notes: the issue's targets: 10 filters at most 1.5x unfiltered CPU per change, N filters at most 2x."
    )
    for scenario, most in TARGETS.items():
        if scenario in rows and unfiltered:
            measured = rows[scenario]["cpu"] / unfiltered["cpu"]
            verdict = "met" if measured <= most else "MISSED"
            print(f"  {SCENARIOS[scenario]}: {measured:.2f}x, target <= {most}x: {verdict}")
    print(
        "  lost: events due that never came; wrong: events of an article a socket does not follow, doubled,"
        " misread, or other messages (errors)"
    )
    if tracebacks:
        print(f"  {tracebacks} tracebacks in the server's log")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000, help="N: sockets a scenario (and articles)")
    parser.add_argument("--changes", type=int, default=200, help="changes a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds a scenario (the rows give medians)")
    parser.add_argument("--warmup", type=int, default=10, help="changes a scenario makes before its rounds")
    parser.add_argument("--authors", type=int, default=10, help="distinct filters of the author scenario")
    parser.add_argument("--layer", default="inmemory", choices=("inmemory", "redis"))
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated, of: " + ", ".join(SCENARIOS)
    )
    parser.add_argument("--keep", metavar="DIR", help="keep the server's log in DIR")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        made = databases.Databases(workdir)
        env = project_environment(made, "filters", args.layer, REDIS_URL)
        env["GDS_DEBUG"] = "0"  # as in production: no query log
        server = Server(env, workdir / "filters.log")
        try:
            rows = asyncio.run(run(server, args, scenarios))
            tracebacks = server.log().count("Traceback")
        except Exception:
            print(f"--- the server's log, its end:\n{server.log()[-4000:]}", file=sys.stderr)
            raise
        finally:
            server.stop()
            made.drop_all()
            if args.layer == "redis":
                databases.forget_redis_keys(REDIS_URL)
    report(rows, args, args.layer, tracebacks)


if __name__ == "__main__":
    main()
