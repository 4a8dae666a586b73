"""Learning at once that another program committed a change (modern engine).

A change the database logged itself (``database_writes``: raw SQL, a
service in another language, ``psql``) comes with no channel-layer wake-up:
no process of ours made it. Where tables have triggers, each server process
watches the database from a thread of its own and wakes its log reader
(``log_tail``): on PostgreSQL by ``LISTEN`` (the trigger notifies at
commit, with no payload: the log says what changed); on SQLite by
``PRAGMA data_version``, which moves when another connection commits,
read every ``SQLITE_POLL_SECONDS``. Without it the reader still polls every
``CHANGE_LOG_POLL_SECONDS``.
"""

import logging
import select
import sqlite3
import threading
import time

from django.db import connections

from .. import app_settings, database_writes

logger = logging.getLogger(__name__)

#: How often a SQLite database's ``data_version`` is read.
SQLITE_POLL_SECONDS = 0.05
#: How long PostgreSQL's listening connection waits before it checks that it is still there.
LISTEN_SECONDS = 5.0


def start(wake, using="default"):
    """Call ``wake()`` (thread-safe) whenever the database commits a change, from a daemon thread; only
    where some table has triggers. Returns whether it watches."""
    if not database_writes.installed(using):
        return False
    connection = connections[using]
    if connection.vendor == "postgresql":
        watch = _listen
    elif connection.vendor == "sqlite" and not connection.is_in_memory_db():
        watch = _data_version
    else:
        return False
    thread = threading.Thread(
        target=_forever, args=(watch, wake, using), name="gds database commits", daemon=True
    )
    thread.start()
    return True


def _forever(watch, wake, using):
    while True:
        try:
            watch(wake, using)
        except Exception:
            logger.exception("Lost the database's commit notices; listening again shortly.")
        time.sleep(app_settings.get("CHANGE_LOG_POLL_SECONDS"))


def _listen(wake, using):
    wrapper = connections.create_connection(using)  # its own connection, in autocommit, never shared
    try:
        wrapper.ensure_connection()
        listen(wrapper.connection, wake)
    finally:
        wrapper.close()


def listen(raw, wake, going=lambda: True, wait=LISTEN_SECONDS):
    """Listen for the triggers' notices on ``raw`` (a psycopg2 or psycopg 3 connection in autocommit) and
    call ``wake()`` when some arrived, while ``going()``; each wait lasts at most ``wait`` seconds."""
    raw.cursor().execute(f"LISTEN {database_writes.CHANNEL}")
    forget_notices(raw)
    while going():
        readable, _, _ = select.select([raw], [], [], wait)
        read_notices(raw)
        if readable:
            wake()


def read_notices(raw):
    """Read the notices that arrived on ``raw`` (a psycopg2 or psycopg 3 connection), keeping none."""
    if hasattr(raw, "poll"):  # psycopg2: read what arrived, and forget it
        raw.poll()
        raw.notifies.clear()
    else:  # psycopg 3 reads what arrived with the next statement (``forget_notices`` drops it)
        raw.execute("SELECT 1")


def forget_notices(raw):
    """Make ``raw``, a psycopg 3 connection, drop each notice it reads (psycopg2 ones are cleared as read).

    Without a handler, psycopg 3 keeps every notice it reads for a later call
    of ``notifies()``, which this watch never makes: one per writing
    transaction, for as long as the server runs. A notice carries nothing (the
    log says what changed), and ``select`` has woken the reader already.
    """
    if hasattr(raw, "add_notify_handler"):
        raw.add_notify_handler(_dropped)


def _dropped(notice):
    """Read, and nothing more to do (see ``forget_notices``)."""


def _data_version(wake, using):
    database = sqlite3.connect(connections[using].settings_dict["NAME"], check_same_thread=False)
    try:
        seen = None
        while True:
            version = database.execute("PRAGMA data_version").fetchone()[0]
            if seen is not None and version != seen:
                wake()
            seen = version
            time.sleep(SQLITE_POLL_SECONDS)
    finally:
        database.close()
