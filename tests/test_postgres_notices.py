"""PostgreSQL's notices, as the commit watch reads them (in process; only the PostgreSQL envs collect this
file, see conftest): each wakes the log reader, and none is kept."""

import threading
import time
import warnings

from graphene_django_subscriptions import database_writes
from graphene_django_subscriptions.engines import commit_watch
from support import databases


def kept(connection):
    """The notices ``connection`` still holds for its user."""
    if hasattr(connection, "poll"):  # psycopg2
        return list(connection.notifies)
    with warnings.catch_warnings():  # psycopg 3 warns that the watch's handler may take some: none kept
        warnings.simplefilter("ignore", RuntimeWarning)
        return list(connection.notifies(timeout=0.2))  # what it kept, then what comes meanwhile


def test_the_notices_the_commit_watch_reads_wake_the_reader_and_are_not_kept():
    """The watch reads one notice per writing transaction for as long as the server runs; psycopg 3 would
    keep each one for a later ``notifies()`` that never comes, without end."""
    listening, writing = databases._postgres(), databases._postgres()
    woken, stop = [], threading.Event()
    watch = threading.Thread(
        target=commit_watch.listen,
        args=(listening, lambda: woken.append(time.monotonic()), lambda: not stop.is_set(), 0.1),
    )
    watch.start()
    try:
        time.sleep(0.5)  # it listens
        for number in range(50):  # fifty transactions: fifty notices
            writing.cursor().execute(f"NOTIFY {database_writes.CHANNEL}, '{number}'")
        deadline = time.monotonic() + 10
        while not woken or time.monotonic() - woken[-1] < 0.5:  # until it has been quiet for half a second
            assert time.monotonic() < deadline, "the watch did not wake the reader"
            time.sleep(0.05)
    finally:
        stop.set()
        watch.join(5)
    try:
        assert woken
        assert kept(listening) == []
    finally:
        listening.close()
        writing.close()
