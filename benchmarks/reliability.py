"""Reliability figures: churn, mass abort, a hung Redis, a soak and fuzzing, against real servers.

The suite runs small versions of each check (tests/test_faults.py and
tests/test_fuzz.py); this script runs them at full size and prints one table:

* churn: connect, subscribe (half over HTTP, half over the socket), leave (half
  close cleanly, half drop the TCP connection), 16 at a time, twice, after a
  warm-up of a fifth as many cycles; then the rows, records and Redis group
  places left, and how much the server's memory grew in each round;
* mass abort: that many subscribed sockets drop their connections at once;
  then how long until nothing of them is left (bounded by the socket lease);
* outage: a Redis of its own stops answering (SIGSTOP) while a followed user is
  saved over HTTP; the slowest save during it against the usual save, and how
  soon a new change reaches the socket that stayed open once Redis answers;
* soak: sockets follow five users that change at a steady rate (one sender
  per user, over HTTP); every notification must arrive once, in commit order
  per user;
* fuzz: tests/test_fuzz.py with more examples (socket frames and HTTP
  subscription arguments): any failure or crash counts as unhandled.

"Unhandled" counts tracebacks in the servers' logs (and fuzz failures). Run
it inside the modern engine's environment: ``tox -e bench-reliability``.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "example_project")]
# The checks read channel names out of channel ids: this process needs the test project's settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
os.environ.setdefault("GDS_DATABASE", ":memory:")

import django  # noqa: E402

django.setup()

from support import databases  # noqa: E402
from support.reliability import churn, mass_abort, outage, rss_kib, soak  # noqa: E402
from support.servers import ENGINE, RedisServer, Server, project_environment  # noqa: E402
from support.tables import print_table  # noqa: E402

REDIS_URL = os.environ.get("GDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def tracebacks(server):
    return server.log().count("Traceback")


def fuzz(workdir, examples):
    """Run the fuzz tests with ``examples`` examples each; return (tests, failed)."""
    report = workdir / "fuzz.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_fuzz.py", "-q", "-p", "no:cacheprovider"]
        + ["-p", "no:django", f"--basetemp={workdir / 'fuzz'}", f"--junitxml={report}"],
        cwd=str(ROOT),
        env=dict(os.environ, GDS_FUZZ_EXAMPLES=str(examples)),
        stdout=subprocess.DEVNULL,
    )
    suite = ET.parse(report).getroot().find("testsuite")
    return int(suite.get("tests")), int(suite.get("failures")) + int(suite.get("errors"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--abort", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=20, help="seconds Redis stays hung")
    parser.add_argument("--soak-sockets", type=int, default=300)
    parser.add_argument(
        "--soak-rate", default="10,20", help="changes a second (comma-separated: one soak each)"
    )
    parser.add_argument("--soak-seconds", type=int, default=60)
    parser.add_argument("--fuzz", type=int, default=1000, help="examples per fuzz test")
    parser.add_argument("--keep", metavar="DIR", help="keep the servers' logs and databases in DIR")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        made = databases.Databases(workdir)
        server = Server(project_environment(made, "reliability", "redis", REDIS_URL), workdir / "server.log")
        try:
            churn(server, max(args.cycles // 5, 1), REDIS_URL)  # warm-up: imports, caches, pools
            rss = [rss_kib(server)]
            figures = churn(server, args.cycles, REDIS_URL)
            rss.append(rss_kib(server))
            # A second round tells a leak (it grows again) from the allocator settling.
            again = churn(server, args.cycles, REDIS_URL)
            rss.append(rss_kib(server))
            rows.append(
                (
                    "churn",
                    f"2 x {args.cycles} cycles, half aborted",
                    f"{figures['cycles'] + again['cycles']} survived, {figures['cycles/s']:.0f}/s, "
                    f"RSS {(rss[1] - rss[0]) / 1024:+.1f} then {(rss[2] - rss[1]) / 1024:+.1f} MiB",
                    "-",
                    "-",
                    figures["rows left"] + again["rows left"],
                    figures["places left"] + again["places left"],
                    tracebacks(server),
                )
            )
            figures = mass_abort(server, args.abort, REDIS_URL, bound=200)
            rows.append(
                (
                    "mass abort",
                    f"{args.abort} sockets drop at once",
                    f"forgotten after {figures['forgotten after (s)']:.1f} s, "
                    f"a socket connecting then waited {figures['next connect (s)']:.2f} s",
                    "-",
                    "-",
                    figures["rows left"],
                    figures["places left"],
                    tracebacks(server),
                )
            )
            for rate in (int(r) for r in args.soak_rate.split(",")):
                figures = soak(server, args.soak_sockets, rate, args.soak_seconds)
                rows.append(
                    (
                        "soak",
                        f"{args.soak_sockets} sockets, {rate} changes/s, {args.soak_seconds} s",
                        f"{figures['notifications']} notifications at {figures['changes/s']:.1f} changes/s, "
                        f"{figures['out of order']} out of order",
                        figures["lost"],
                        figures["duplicated"],
                        "-",
                        "-",
                        tracebacks(server),
                    )
                )
        finally:
            server.stop()

        redis = RedisServer(workdir / "hung-redis.log")
        server = Server(project_environment(made, "outage", "redis", redis.url), workdir / "outage.log")
        try:
            figures = outage(server, redis, args.outage)
            flowing = figures["flowing again after (s)"]
            rows.append(
                (
                    "outage",
                    f"Redis hung {args.outage:.0f} s, {figures['saves']} saves",
                    f"slowest save {figures['slowest save during (ms)']:.0f} ms "
                    f"({figures['slowest save during (ms)'] / figures['save before (ms)']:.1f}x usual); "
                    + (
                        f"flowing again after {flowing:.1f} s"
                        if flowing is not None
                        else "never flowing again"
                    ),
                    "-",
                    "-",
                    "-",
                    "-",
                    tracebacks(server),
                )
            )
        finally:
            server.stop()
            redis.stop()
        made.drop_all()
        databases.forget_redis_keys(REDIS_URL)

        tests, failed = fuzz(workdir, args.fuzz)
        rows.append(
            (
                "fuzz",
                f"{tests} x {args.fuzz} hostile inputs",
                f"{tests - failed} of {tests} properties held",
                "-",
                "-",
                "-",
                "-",
                failed,
            )
        )

    print(f"engine: {ENGINE}, Redis channel layer, database: {databases.KIND}")
    header = ("check", "load", "held", "lost", "duplicated", "rows left", "places left", "unhandled")
    print_table(header, rows)


if __name__ == "__main__":
    main()
