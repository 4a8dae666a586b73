"""Real server processes for the tests: the engine's own server on a free local port."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import channels

ROOT = Path(__file__).resolve().parent.parent
LEGACY = channels.__version__.startswith("1.")
ENGINE = "legacy" if LEGACY else "modern"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(settings, database, layer="inmemory", redis_url=None):
    """The environment a server or command of the test project runs with."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        GDS_DATABASE=str(database),
        GDS_CHANNEL_LAYER=layer,
        PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT / "example_project"), str(ROOT)]),
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["GDS_REDIS_URL"] = redis_url
    return env


def django_admin(env, *args, timeout=120):
    """Run a management command in its own process; return its completed process."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


class Server:
    """One server process: ``runserver`` (daphne 1 + workers) on the legacy engine, daphne 4 on the modern one."""

    def __init__(self, env, log_path, asgi_app="testproject.asgi:application", runserver=False, port=None):
        self.port = port or free_port()
        self.env = env
        self.log_path = Path(log_path)
        if LEGACY or runserver:
            command = [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{self.port}", "--noreload"]
        else:
            command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), asgi_app]
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            command, env=env, cwd=str(ROOT), stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_until_listening()

    @property
    def http(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self):
        return f"ws://127.0.0.1:{self.port}/subscriptions/"

    def _wait_until_listening(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not listen within {timeout}s:\n{self.log()}")

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
