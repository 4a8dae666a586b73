"""The databases and Redis namespaces of one test run, made for it and removed after it.

``GDS_TEST_DATABASE`` picks the database every server of the test project runs
on: ``sqlite`` (a file per server, the default) or ``postgres`` (a database per
server on the PostgreSQL at ``GDS_TEST_POSTGRES_URL``). Every name carries this
run's id, so two runs side by side (``tox run-parallel``) never share a
database, a Redis key or a channel-layer group.
"""

import os
import shutil
import subprocess
import uuid
from urllib.parse import urlsplit, urlunsplit

KIND = os.environ.get("GDS_TEST_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get("GDS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
#: This run's id: part of every database name and Redis prefix it makes.
RUN = uuid.uuid4().hex[:10]

if KIND not in ("sqlite", "postgres"):
    raise RuntimeError(f"GDS_TEST_DATABASE must be sqlite or postgres, not {KIND!r}.")


def _postgres():
    """An autocommit connection to the server's maintenance database (psycopg 3 or psycopg2)."""
    try:
        import psycopg
    except ImportError:
        import psycopg2

        connection = psycopg2.connect(POSTGRES_URL)
        connection.autocommit = True
        return connection
    return psycopg.connect(POSTGRES_URL, autocommit=True)


class Databases:
    """Hands out one database per server and drops them all at the end."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.made = []
        self._templates = {}

    def new(self, name, template=None):
        """The ``GDS_DATABASE`` value of a new database called ``name`` in this run.

        It is empty, or on PostgreSQL a copy of ``template`` (a URL this method returned).
        """
        if KIND == "sqlite":
            return str(self.workdir / f"{name}.sqlite3")
        database = f"gds_{RUN}_{name}".replace("-", "_").lower()
        copied = f' TEMPLATE "{urlsplit(template).path.lstrip("/")}"' if template else ""
        connection = _postgres()
        try:
            connection.cursor().execute(f'CREATE DATABASE "{database}"{copied}')
        finally:
            connection.close()
        self.made.append(database)
        return urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{database}"))

    def migrated(self, name, key, migrate):
        """A new database called ``name`` with what ``migrate(database)`` puts in one.

        ``migrate`` runs once per ``key`` (a project and its interpreter), on a template
        database; every later database of that key is a copy of it, not a second run of
        every migration (about 1.5 s of a CPU each time).
        """
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self.new(f"template-{len(self._templates)}")
            migrate(template)
        if KIND == "sqlite":
            copy = str(self.workdir / f"{name}.sqlite3")
            shutil.copyfile(template, copy)
            return copy
        return self.new(name, template=template)

    def drop_all(self):
        if not self.made:
            return
        connection = _postgres()
        try:
            for database in self.made:
                connection.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            connection.close()
        self.made.clear()


def other_program(database, sql):
    """Run ``sql`` on ``database`` (a ``GDS_DATABASE`` value) with the database's own command-line client,
    ``sqlite3`` or ``psql``: a writer that is not Django. Returns what it printed."""
    if KIND == "sqlite":
        command = ["sqlite3", "-bail", "-cmd", ".timeout 20000", database, sql]
    else:
        command = ["psql", database, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def redis_prefix(name):
    """A channel-layer prefix of this run alone, so no other run or server hears its messages."""
    return f"gdstest.{RUN}.{name}."


def forget_redis_keys(redis_url):
    """Delete this run's keys (and only those) from Redis."""
    import redis

    client = redis.StrictRedis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*gdstest.{RUN}.*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
