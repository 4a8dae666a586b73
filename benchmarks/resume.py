"""Never-miss figures: resuming after drops, saving processes killed, a hung layer, replay against live.

For each database (SQLite, then PostgreSQL), on a Redis channel layer, against
real daphne servers of the test project, with graphql-transport-ws clients
(the ``websockets`` library, one event loop) following every article change:

* soak: S sockets, split between one server process and then two, while
  articles are saved over HTTP at R changes a second for T seconds (eight
  savers, each renaming its own article: each article's renames commit in its
  saver's order). Each socket drops its TCP connection (no close handshake)
  after 10-30 s, stays away 0.5-5 s, and subscribes again ``after`` the last
  cursor it heard (a handshake the server leaves unanswered is tried again).
  Then: changes lost, doubled and out of commit order, RESYNCs, and the change
  log's largest size (the log keeps 600 changes a stream, pruned every 5 s, so
  it must prune);
* kill: K articles, each saved by a process killed (SIGKILL) right after its
  commit; every change must reach each of N open sockets once, in order;
* outage: the Redis layer hung (SIGSTOP) for H seconds while another server
  process saves articles twice a second; every open socket must end with
  every change (or a RESYNC), and the table gives the latest arrival after its
  commit;
* replay: 300 changes committed in one transaction, delivered live to N
  sockets, against the same 300 replayed to N sockets that subscribe after the
  cursor before them: the time until every socket has the last one, and the ratio.

"Lost" counts changes a socket never heard with no RESYNC to say so. Run it
alone on the machine, in a modern environment: ``tox -e bench-resume``.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import databases  # noqa: E402
from support.servers import CWD, ENGINE, RedisServer, Server, project_environment  # noqa: E402
from support.tables import print_table  # noqa: E402

REDIS_URL = os.environ.get("GDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
FEED = "subscription Feed($after: String) { articleChanges(after: $after) { action cursor data { title } } }"
#: The soak's savers (threads), each renaming an article of its own.
SAVERS = 8
#: The soak's retention: small enough that the log is pruned while it runs.
SOAK_RETENTION = {"CHANGE_LOG_MAX_CHANGES_PER_STREAM": 600, "CHANGE_LOG_PRUNE_SECONDS": 5}

#: Saves articles in processes killed right after each commit: a fork per save (the parent
#: set Django up once), which kills itself as soon as the save returns.
KILLED_SAVER = r"""
import os, signal, sys, time
import django
django.setup()
from django.db import connections
from testproject.models import Article

author, count, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for number in range(count):
    connections.close_all()  # the child opens its own
    child = os.fork()
    if child == 0:
        Article.objects.create(title=f"{prefix}{number}", author_id=author)  # committed
        os.write(1, f"{prefix}{number} {time.time()}\n".encode())  # when, for the latency
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
"""


def post(server, path, body):
    response = requests.post(f"{server.http}{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def new_author(server):
    return post(server, "/testing/user/", {"username": f"author{random.randrange(10**9)}"})["id"]


def create(server, author, titles, atomic=False):
    """Create an article per title (one transaction each, or one for all); their ids by title."""
    steps = [
        {"create": "article", "as": title, "set": {"title": title, "author_id": author}} for title in titles
    ]
    return post(server, "/testing/changes/", {"steps": steps, "atomic": atomic})["ids"]


def rename(server, pk, title):
    post(server, "/testing/changes/", {"steps": [{"load": "article", "pk": pk, "as": "a"},
                                                  {"update": "a", "set": {"title": title}}]})  # fmt: skip


def cursor_now(server):
    response = requests.post(f"{server.http}/graphql/", json={"query": "{ articlesCursor }"}, timeout=60)
    return response.json()["data"]["articlesCursor"]


def log_rows(server, stream="articles"):
    """How many changes of ``stream`` the change log holds now."""
    entries = requests.get(f"{server.http}/testing/change-log/", timeout=60).json()["entries"]
    return sum(1 for entry in entries if entry["stream"] == stream)


class Follower:
    """One graphql-transport-ws client following every article change; it remembers what it heard."""

    def __init__(self, server):
        self.url = f"ws://127.0.0.1:{server.port}/graphql/"
        self.cursor = None
        self.heard = []  # titles, and "RESYNC", in arrival order
        self.arrived = {}  # title -> time.time() of its first arrival
        self.resumes = 0
        self.retried = 0  # handshakes the server did not complete (an overloaded daphne drops them after 5 s)
        self.ws = None

    async def connect(self):
        """Connect and subscribe after the last cursor heard (or from now, the first time).

        A handshake the server does not complete is tried again after a while, as clients do.
        """
        for delay in (0.5, 1, 2, 4, 8, 8, 8, 8):
            try:
                return await self._connect()
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed):
                self.retried += 1
                await asyncio.sleep(delay)
        return await self._connect()

    async def _connect(self):
        self.ws = await websockets.connect(
            self.url,
            subprotocols=["graphql-transport-ws"],
            max_size=None,
            open_timeout=60,
            ping_interval=None,
        )
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await self.ws.recv())
        assert ack == {"type": "connection_ack"}, ack
        variables = {"after": self.cursor}
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": FEED, "variables": variables}}
        await self.ws.send(json.dumps(subscribe))

    async def listen(self, until):
        """Read events until ``until()`` is true or the socket ends (dropped by ``drop``)."""
        try:
            while not until():
                try:
                    message = json.loads(await asyncio.wait_for(self.ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                assert message["type"] == "next", message
                event = message["payload"]["data"]["articleChanges"]
                self.cursor = event["cursor"]
                title = "RESYNC" if event["action"] == "RESYNC" else event["data"]["title"]
                self.heard.append(title)
                self.arrived.setdefault(title, time.time())
        except websockets.ConnectionClosed:
            pass

    def drop(self):
        """Lose the connection as a network does: no close handshake."""
        self.ws.transport.abort()

    async def close(self):
        await self.ws.close()

    def count(self, sequences):
        """(lost, doubled, out of order, RESYNCs) against ``sequences`` (lists of titles in commit order)."""
        resyncs = self.heard.count("RESYNC")
        lost = doubled = disordered = 0
        for expected in sequences:
            place = {title: index for index, title in enumerate(expected)}
            titles = [title for title in self.heard if title in place]
            doubled += len(titles) - len(set(titles))
            disordered += sum(1 for a, b in zip(titles, titles[1:]) if place[a] >= place[b])
            lost += 0 if resyncs else len(set(expected) - set(titles))
        return lost, doubled, disordered, resyncs


async def followers(server, count):
    """``count`` connected followers, split between ``server`` (one, or a list of processes).

    Each starts after the stream's cursor read before they connect: a change committed while they
    subscribe reaches them, however long their subscribes take.
    """
    servers = server if isinstance(server, list) else [server]
    crowd = [Follower(servers[index % len(servers)]) for index in range(count)]
    start = cursor_now(servers[0])
    for follower in crowd:
        follower.cursor = start
    for start in range(0, count, 50):  # not all handshakes at the same instant
        await asyncio.gather(*(f.connect() for f in crowd[start : start + 50]))
    return crowd


def totals(crowd, *sequences):
    counts = [f.count(sequences) for f in crowd]
    return [sum(column) for column in zip(*counts)]


async def soak(servers, sockets, rate, seconds, stay):
    server = servers[0]
    author = new_author(server)
    ids = list(create(server, author, [f"soak-start-{n}" for n in range(SAVERS)]).values())
    crowd = await followers(servers, sockets)
    await asyncio.sleep(1)  # every subscription is recorded before the first change
    saved, saving, sizes = {pk: [] for pk in ids}, threading.Event(), []
    saving.set()

    def save_all(pk):
        started, number = time.time(), 0
        while time.time() - started < seconds:
            title = f"soak-{pk}-{number}"
            rename(servers[pk % len(servers)], pk, title)
            saved[pk].append(title)
            number += 1
            time.sleep(max(0.0, started + number * SAVERS / rate - time.time()))

    def save():
        savers = [threading.Thread(target=save_all, args=(pk,)) for pk in ids]
        for thread in savers:
            thread.start()
        while any(thread.is_alive() for thread in savers):
            sizes.append(log_rows(server))
            time.sleep(2)
        took.append(time.time() - started)
        saving.clear()

    async def churn(follower, rng):
        listening = asyncio.ensure_future(follower.listen(lambda: False))
        while saving.is_set():
            await asyncio.sleep(rng.uniform(*stay))
            if not saving.is_set():
                break
            follower.drop()
            await listening
            await asyncio.sleep(rng.uniform(0.5, 5))
            await follower.connect()
            follower.resumes += 1
            listening = asyncio.ensure_future(follower.listen(lambda: False))
        listening.cancel()

    started, took = time.time(), []
    saver = threading.Thread(target=save)
    saver.start()
    await asyncio.gather(*(churn(f, random.Random(index)) for index, f in enumerate(crowd)))
    await asyncio.to_thread(saver.join)
    count = sum(len(titles) for titles in saved.values())
    held = count / took[0]
    lasts = [titles[-1] for titles in saved.values()]
    deadline = time.time() + 120

    def done(follower):
        heard = all(last in follower.arrived for last in lasts)
        return heard or "RESYNC" in follower.heard or time.time() > deadline

    await asyncio.gather(*(f.listen(lambda f=f: done(f)) for f in crowd))
    await asyncio.gather(*(drain(f) for f in crowd))  # anything doubled arrives meanwhile
    lost, doubled, disordered, resyncs = totals(crowd, *saved.values())
    await asyncio.gather(*(f.close() for f in crowd))
    return {
        "load": f"{sockets} sockets on {len(servers)} server(s), {held:.1f} changes/s, {seconds} s, "
        f"{sum(f.resumes for f in crowd)} resumes ({sum(f.retried for f in crowd)} handshakes retried)",
        "figures": (lost, doubled, disordered, resyncs),
        "held": f"{count} changes x {sockets} sockets; the stream's log at most {max(sizes)} "
        f"changes (keeps {SOAK_RETENTION['CHANGE_LOG_MAX_CHANGES_PER_STREAM']}, pruned every 5 s)",
    }


async def drain(follower, quiet=0.5):
    """Read what is still on its way until the socket is quiet for ``quiet`` seconds."""
    listening = asyncio.ensure_future(follower.listen(lambda: False))
    before = -1
    while len(follower.heard) != before:
        before = len(follower.heard)
        await asyncio.sleep(quiet)
    listening.cancel()
    try:
        await listening
    except asyncio.CancelledError:
        pass


async def killed(server, env, sockets, kills):
    author = new_author(server)
    crowd = await followers(server, sockets)
    await asyncio.sleep(1)
    prefix = f"killed-{random.randrange(10**6)}-"
    expected = [f"{prefix}{number}" for number in range(kills)]
    listening = [asyncio.ensure_future(f.listen(lambda f=f: expected[-1] in f.arrived)) for f in crowd]
    started = time.time()
    saver = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_SAVER, str(author), str(kills), prefix, env=env, cwd=str(CWD),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await saver.communicate()
    assert saver.returncode == 0
    done = time.time()
    committed = {
        title: float(when) for title, when in (line.split() for line in output.decode().splitlines())
    }
    await asyncio.wait_for(asyncio.gather(*listening), 120)
    figures, latest = await finish(crowd, committed)
    return {
        "load": f"{kills} saves, each process killed after its commit; {sockets} sockets",
        "figures": figures,
        "held": f"{kills / (done - started):.0f} kills/s; the latest arrival {latest:.2f} s after its commit",
    }


async def finish(crowd, committed):
    """Read what is still on its way, close: the figures against ``committed`` (title: its commit time,
    in commit order), and the latest arrival after its commit."""
    await asyncio.gather(*(drain(f) for f in crowd))
    latest = max(f.arrived[t] - when for f in crowd for t, when in committed.items() if t in f.arrived)
    figures = totals(crowd, list(committed))
    await asyncio.gather(*(f.close() for f in crowd))
    return figures, latest


async def outage(saver, listener, redis, sockets, seconds):
    author = new_author(saver)
    crowd = await followers(listener, sockets)
    await asyncio.sleep(1)
    committed = {}
    listening = [asyncio.ensure_future(f.listen(lambda: False)) for f in crowd]
    os.kill(redis.process.pid, signal.SIGSTOP)
    try:
        started = time.time()
        number = 0
        while time.time() - started < seconds:
            title = f"outage-{number}"
            await asyncio.to_thread(create, saver, author, [title])
            committed[title] = time.time()
            number += 1
            await asyncio.sleep(max(0.0, started + number / 2 - time.time()))
        during = sum(len([t for t in f.arrived if t in committed]) for f in crowd)
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    expected = list(committed)
    deadline = time.time() + 120
    while time.time() < deadline and not all(expected[-1] in f.arrived or "RESYNC" in f.heard for f in crowd):
        await asyncio.sleep(0.2)
    for task in listening:
        task.cancel()
    figures, latest = await finish(crowd, committed)
    return {
        "load": f"Redis hung {seconds:.0f} s, {len(expected)} saves by another process; {sockets} sockets",
        "figures": figures,
        "held": f"{during} of {len(expected) * sockets} arrived during the outage; "
        f"the latest {latest:.2f} s after its commit",
    }


async def replay_against_live(server, sockets, changes=300):
    author = new_author(server)
    # Live: every socket subscribed, then the changes committed at once.
    crowd = await followers(server, sockets)
    await asyncio.sleep(1)
    before = cursor_now(server)
    titles = [f"replay-{random.randrange(10**6)}-{n}" for n in range(changes)]
    listening = [asyncio.ensure_future(f.listen(lambda f=f: titles[-1] in f.arrived)) for f in crowd]
    started = time.time()
    await asyncio.to_thread(create, server, author, titles, True)
    await asyncio.wait_for(asyncio.gather(*listening), 120)
    live = max(f.arrived[titles[-1]] for f in crowd) - started
    await asyncio.gather(*(f.close() for f in crowd))
    # Replayed: as many sockets subscribe after the cursor before them.
    crowd = [Follower(server) for _ in range(sockets)]
    for follower in crowd:
        follower.cursor = before
    started = time.time()
    await asyncio.gather(*(f.connect() for f in crowd))
    await asyncio.wait_for(
        asyncio.gather(*(f.listen(lambda f=f: titles[-1] in f.arrived) for f in crowd)), 120
    )
    replayed = max(f.arrived[titles[-1]] for f in crowd) - started
    await asyncio.gather(*(drain(f) for f in crowd))
    lost, doubled, disordered, resyncs = totals(crowd, titles)
    await asyncio.gather(*(f.close() for f in crowd))
    return {
        "load": f"{changes} changes to {sockets} socket{'s' if sockets > 1 else ''}",
        "figures": (lost, doubled, disordered, resyncs),
        "held": f"live {live:.2f} s, replayed {replayed:.2f} s: {replayed / live:.2f}x",
    }


def server_env(made, name, redis_url, **settings):
    env = project_environment(made, name, "redis", redis_url)
    env["GDS_LIMITS"] = json.dumps(settings)
    env["GDS_DEBUG"] = "0"  # as in production: no query log
    return env


async def run(kind, workdir, args):
    checks = args.checks.split(",")
    rows = []
    made = databases.Databases(workdir)
    try:
        if "soak" in checks:
            env = server_env(made, "resume-soak", REDIS_URL, **SOAK_RETENTION)
            for count in (int(n) for n in args.servers.split(",")):
                servers = [Server(env, workdir / f"{kind}-soak-{count}-{n}.log") for n in range(count)]
                try:
                    stay = [float(s) for s in args.stay.split(",")]
                    rows.append(("soak", await soak(servers, args.sockets, args.rate, args.seconds, stay)))
                finally:
                    for server in servers:
                        server.stop()
        if "kill" in checks or "replay" in checks:
            env = server_env(made, "resume-kill", REDIS_URL)
            server = Server(env, workdir / f"{kind}-kill.log")
            try:
                if "kill" in checks:
                    rows.append(("kill", await killed(server, env, args.kill_sockets, args.kills)))
                for sockets in (1, args.replay_sockets) if "replay" in checks else ():
                    rows.append(("replay", await replay_against_live(server, sockets)))
            finally:
                server.stop()
        if "outage" in checks:
            redis = RedisServer(workdir / f"{kind}-redis.log")
            env = server_env(made, "resume-outage", redis.url)
            saver = Server(env, workdir / f"{kind}-outage-saver.log")
            listener = Server(env, workdir / f"{kind}-outage-listener.log")
            try:
                rows.append(("outage", await outage(saver, listener, redis, args.kill_sockets, args.outage)))
            finally:
                saver.stop()
                listener.stop()
                redis.stop()
    finally:
        made.drop_all()
        databases.forget_redis_keys(REDIS_URL)
    return [(kind, check, row["load"], *row["figures"], row["held"]) for check, row in rows]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--checks", default="soak,kill,replay,outage")
    parser.add_argument("--sockets", type=int, default=300, help="the soak's sockets")
    parser.add_argument("--rate", type=int, default=20, help="the soak's changes a second")
    parser.add_argument("--seconds", type=int, default=60, help="the soak's length")
    parser.add_argument(
        "--stay", default="10,30", help="seconds a soak's socket stays between drops: min,max"
    )
    parser.add_argument("--servers", default="1,2", help="the soak's server processes (one soak each)")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument(
        "--kill-sockets", type=int, default=50, help="sockets open in the kill and outage checks"
    )
    parser.add_argument("--outage", type=float, default=10, help="seconds Redis stays hung")
    parser.add_argument("--replay-sockets", type=int, default=50)
    parser.add_argument("--keep", metavar="DIR", help="keep the servers' logs in DIR")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for kind in args.databases.split(","):
            databases.KIND = kind
            rows += asyncio.run(run(kind, workdir, args))
    print(
        f"engine: {ENGINE}, Redis channel layer, graphql-transport-ws clients following every article change"
    )
    print_table(("database", "check", "load", "lost", "doubled", "out of order", "RESYNC", "held"), rows)


if __name__ == "__main__":
    main()
