"""Real server processes for the tests: the engine's own server on a free local port."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import channels

from support import databases
from support.client import password_login

ROOT = Path(__file__).resolve().parent.parent.parent
#: Where servers and commands run. Not the checkout's root: ``python -m`` puts its
#: working directory on sys.path, and the package must come from the installed wheel.
CWD = ROOT / "tests"
LEGACY = channels.__version__.startswith("1.")
ENGINE = "legacy" if LEGACY else "modern"
#: An env that varies only the Django version (tox.ini): tests marked ``stack`` are left out, crowds are smaller.
SMALL = os.environ.get("GDS_TEST_SIZE") == "small"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(settings, database, layer="inmemory", redis_url=None, redis_prefix=None, path=()):
    """The environment a server or command of the test project runs with.

    ``database`` is a SQLite file's path or a ``postgresql://`` URL (see databases.py);
    ``path``: more folders to import projects from.
    """
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        GDS_DATABASE=str(database),
        GDS_CHANNEL_LAYER=layer,
        # The test project and the example; the package itself is the installed wheel.
        PYTHONPATH=os.pathsep.join([*map(str, path), str(ROOT / "tests"), str(ROOT / "example_project")]),
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["GDS_REDIS_URL"] = redis_url
    if redis_prefix:
        env["GDS_REDIS_PREFIX"] = redis_prefix
    return env


def project_environment(
    made, name, layer="inmemory", redis_url=None, settings="testproject.settings", path=(), python=None
):
    """The environment of a test-project server: a new, migrated database of ``made`` and a Redis prefix of its own.

    ``settings``, ``path`` and ``python`` name another project and the interpreter it runs on (the benchmarks'
    peers); by default, the test project on this interpreter.
    """

    def migrate(database):
        django_admin(environment(settings, database, path=path), "migrate", "--noinput", python=python)

    return environment(
        settings,
        made.migrated(name, (settings, python, tuple(map(str, path))), migrate),
        layer=layer,
        redis_url=redis_url,
        redis_prefix=databases.redis_prefix(name),
        path=path,
    )


def django_admin(env, *args, timeout=120, python=None):
    """Run a management command in its own process (on ``python``, this interpreter by default)."""
    return subprocess.run(
        [python or sys.executable, "-m", "django", *args],
        env=env,
        cwd=str(CWD),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def _listening_inodes(port):
    """Inodes of the sockets listening on 127.0.0.1 (or any address) at ``port``, from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes


def listens(pid, port):
    """Whether process ``pid`` itself holds a socket listening on ``port``."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


class Server:
    """One server process: ``runserver`` (daphne 1 + workers) on the legacy engine, daphne 4 on the modern one."""

    def __init__(
        self,
        env,
        log_path,
        asgi_app="testproject.asgi:application",
        runserver=False,
        port=None,
        daphne_args=(),
        python=None,
    ):
        self.port = port or free_port()
        self.env = env
        self.log_path = Path(log_path)
        python = python or sys.executable
        if LEGACY or runserver:
            command = [python, "-m", "django", "runserver", f"127.0.0.1:{self.port}", "--noreload"]
        else:
            command = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), *daphne_args]
            command.append(asgi_app)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            command, env=env, cwd=str(CWD), stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_until_listening()

    @property
    def http(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self):
        return f"ws://127.0.0.1:{self.port}/subscriptions/"

    def _wait_until_listening(self, timeout=60):
        # Something else may hold the port (free_port() can race with another
        # program): only a listening socket of this very process will do.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            if listens(self.process.pid, self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not listen on port {self.port} within {timeout}s:\n{self.log()}")

    def log(self):
        """Everything the server printed so far."""
        self._log.flush()
        return self.log_path.read_text()

    def kill(self):
        """Stop at once, as a crash would: no disconnect handler runs."""
        self.process.kill()
        self.process.wait()
        self._log.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class RedisServer:
    """A Redis of a test's own, on a free port, that the test may stop (SIGSTOP) as a hung server would."""

    def __init__(self, log_path):
        self.port = free_port()
        self._log = open(log_path, "w")
        self._start()

    def _start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not listens(self.process.pid, self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def hang(self):
        """Stop answering, without closing any connection."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def restart(self):
        """Stop and start again on the same port, empty (it keeps nothing on disk), as a restarted Redis would."""
        self.process.terminate()
        self.process.wait(timeout=10)
        self._start()

    def stop(self):
        self.resume()
        self.process.terminate()
        self.process.wait(timeout=10)
        self._log.close()


#: The example servers' admin passwords by origin ("http://127.0.0.1:<port>"): a browser tab logs in with them.
ADMIN_PASSWORDS = {}


def example_server(env, log, **options):
    """Migrate the example's database, run ``demo_admin`` as scripts/run-example.sh does, and serve it.

    The server knows the admin's ``admin_password`` and has an ``admin_session`` logged in with it.
    """
    django_admin(env, "migrate", "--noinput")
    said = django_admin(env, "demo_admin").stdout.strip().splitlines()[-1]
    assert said.startswith("To change users and groups, log in at /login/ as admin, password "), said
    srv = Server(env, log, runserver=True, **options)
    srv.admin_password = ADMIN_PASSWORDS[srv.http] = said.rsplit(" ", 1)[-1]
    srv.admin_session = password_login(srv, "admin", srv.admin_password)
    return srv


class RestartableExample:
    """The example under ``runserver`` on a port of its own, which a test stops and starts again."""

    def __init__(self, workdir, name):
        self.workdir, self.name, self.starts = workdir, name, 1
        self.env = environment("example.settings", workdir / f"{name}.sqlite3")
        self.server = example_server(self.env, workdir / f"{name}-1.log")

    def restart(self, page, while_stopped=None):
        """Stop the server, wait until ``page`` notices, run ``while_stopped()``, start it again on its port."""
        self.server.stop()
        page.wait(lambda: page.status.startswith("reconnecting"), "the page did not notice the server left")
        if while_stopped is not None:
            while_stopped()
        self.starts += 1
        log = self.workdir / f"{self.name}-{self.starts}.log"
        restarted = Server(self.env, log, runserver=True, port=self.server.port)
        restarted.admin_password, restarted.admin_session = (
            self.server.admin_password,
            self.server.admin_session,
        )
        self.server = restarted
        return self.server

    def shell(self, code):
        """Run ``code`` in the example's ``manage.py shell`` (another process, as a script or a person would)."""
        return django_admin(self.env, "shell", "-c", code).stdout
