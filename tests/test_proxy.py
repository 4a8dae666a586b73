"""The proxy block of docs/deploying.rst ("In front of daphne: a proxy"), run as written in a real nginx.

Only its ports are changed: nginx listens on a free port and passes on to
the test server's. Slow headers are cut off at its deadline, and sockets of
both protocols work through it.
"""

import re
import shutil
import socket as tcp
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.client import Socket, create_group, subscribe, unique
from support.servers import LEGACY, free_port, listens

#: A browser (or a proxy) in front of the server: the same whatever the Django version.
pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
#: The block's deadline for a request's headers, in seconds.
HEADER_DEADLINE = 10


def documented_block():
    """The nginx block of docs/deploying.rst, as a user would paste it."""
    text = (ROOT / "docs" / "deploying.rst").read_text()
    section = text[text.index("In front of daphne: a proxy") :]
    block = section[section.index("::\n\n") + 4 :]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("        "):
            break
        lines.append(line[8:])
    return "\n".join(lines).strip() + "\n"


@pytest.fixture(scope="module")
def proxy(server, workdir):
    block = documented_block()
    assert f"client_header_timeout {HEADER_DEADLINE}s;" in block
    port = free_port()
    block = block.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{server.port};")
    block = re.sub(r"listen 80;", f"listen 127.0.0.1:{port};", block)
    home = workdir / "nginx"
    home.mkdir(exist_ok=True)
    (home / "nginx.conf").write_text(
        "daemon off;\nworker_processes 1;\n"
        f"pid {home}/nginx.pid;\nerror_log {home}/error.log info;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\naccess_log {home}/access.log;\n{block}}}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(home), "-c", str(home / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=open(home / "stderr.log", "w"),
    )
    deadline = time.monotonic() + 10
    while not listens(process.pid, port):
        assert process.poll() is None and time.monotonic() < deadline, (home / "stderr.log").read_text()
        time.sleep(0.05)
    process.port = port
    yield process
    process.terminate()
    process.wait(timeout=10)


class Proxied:
    """The test server as seen through the proxy."""

    def __init__(self, server, port):
        self.port = port
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}/subscriptions/"
        self.env = server.env


def test_sockets_of_the_2018_protocol_work_through_the_proxy(server, proxy):
    through = Proxied(server, proxy.port)
    socks = [Socket(through) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            list(
                pool.map(
                    lambda sock: subscribe(through, sock, field="groupSubscription", action="CREATE"), socks
                )
            )
        name = unique("proxied")
        create_group(through, name)
        for sock in socks:
            frame = sock.recv()
            assert frame["payload"]["action"] == "create" and frame["payload"]["data"]["name"] == name
    finally:
        for sock in socks:
            sock.close()


if not LEGACY:

    def test_standard_sockets_work_through_the_proxy(server, proxy):
        from support.graphql_ws_client import served

        served(Proxied(server, proxy.port))


def test_slow_headers_are_cut_off_at_the_proxys_deadline(proxy):
    # The attack: connections that send a request's headers one line a second, never ending them.
    def slow_client(n):
        conn = tcp.create_connection(("127.0.0.1", proxy.port))
        conn.settimeout(1)
        started = time.monotonic()
        conn.sendall(b"GET /subscriptions/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for line in range(4 * HEADER_DEADLINE):
                conn.sendall(f"X-Slow-{line}: {n}\r\n".encode())
                try:
                    if conn.recv(4096) == b"":
                        break  # closed without an answer
                    break  # an answer: nginx's 408
                except tcp.timeout:  # TimeoutError from Python 3.10 on; not yet on 3.9
                    continue
        except OSError:
            pass  # reset by the proxy
        finally:
            conn.close()
        return time.monotonic() - started

    with ThreadPoolExecutor(50) as pool:
        held = list(pool.map(slow_client, range(50)))
    # Each was let go at the deadline (a second's grain), none held on for the four times as long it tried.
    assert all(HEADER_DEADLINE - 1 <= seconds <= HEADER_DEADLINE + 3 for seconds in held), held
