"""Committed changes leave the saving code at once; one thread per process delivers them, in order.

The request (or command) that saved an object only puts the change in this
process's outbox: the lookup of live groups, the serialization and the sends
to the channel layer happen on the outbox's thread (where servers deliver
from the change log, the modern engine's, only a message that tells them to
read it). So a slow or dead channel layer never holds a ``save()`` up. A send that takes longer than
``LAYER_SEND_TIMEOUT`` starts an outage, logged once, with a second line when
the layer answers again; the changes saved meanwhile stay saved, and new ones
flow as soon as it answers. A process that exits waits up to
``OUTBOX_EXIT_WAIT`` seconds for its outbox to empty. The same thread prunes
the change log, at most every ``CHANGE_LOG_PRUNE_SECONDS``.
"""

import asyncio
import atexit
import concurrent.futures
import logging
import queue
import threading
import time

from django.db import close_old_connections, connections

from . import app_settings, change_log, transport

logger = logging.getLogger(__name__)

#: Seconds without a change after which the outbox's thread closes its database connections.
IDLE_SECONDS = 1.0
#: The most deliveries the outbox's thread takes from its queue at once.
BATCH = 100
#: What an engine raises for a send that took longer than ``LAYER_SEND_TIMEOUT``.
TIMEOUTS = (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError)


class Outbox:
    """A bounded queue of deliveries and the thread that runs them, oldest first."""

    def __init__(self):
        self._queue = None
        self._lock = threading.Lock()
        self._outage_started = None
        self._missed = 0
        self._sending_since = None
        self._pruned_at = time.monotonic()

    def put(self, delivery):
        """Queue ``delivery`` (a callable that sends one change); never blocks.

        It returns whether it sent anything, or a follow-up: a callable run once
        after the deliveries queued with it, however many of them returned it
        (the modern engine's call to read the change log).
        """
        with self._lock:
            if self._queue is None:
                self._start()
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            self._missed += 1
            self._begin_outage(f"{self._queue.maxsize} changes wait in the outbox; new ones are dropped")

    def flush(self, timeout):
        """Wait up to ``timeout`` seconds for every queued delivery to be done; return whether they were."""
        if self._queue is None:
            return True
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _start(self):
        self._queue = queue.Queue(maxsize=app_settings.get("MAX_PENDING_CHANGES"))
        # Both threads start now: Python 3.12 starts no thread while the interpreter
        # exits, and the exit flush below may be the first to deliver.
        for target, name in ((self._run, "outbox"), (self._watch, "outbox watchdog")):
            threading.Thread(target=target, name=f"graphene-django-subscriptions {name}", daemon=True).start()
        atexit.register(self._flush_at_exit)

    def _run(self):
        while True:
            try:
                batch = [self._queue.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                # Idle: hold no database connection. Busy: keep it, since opening one
                # per change would cost more than many deliveries.
                connections.close_all()
                batch = [self._queue.get()]
            while len(batch) < BATCH:  # what else is waiting goes with it
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._run_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()
            self._prune_now_and_then()

    def _run_batch(self, batch):
        """Run each delivery, oldest first; then, once, each distinct follow-up they returned."""
        follow_ups = []
        for delivery in batch:
            follow_up = self._deliver_or_log(delivery)
            if follow_up is not None and follow_up not in follow_ups:
                follow_ups.append(follow_up)
        for follow_up in follow_ups:
            self._deliver_or_log(follow_up)

    def _deliver_or_log(self, delivery):
        try:
            return self._deliver(delivery)
        except Exception:  # the thread must outlive any one change
            logger.exception("A change could not be delivered; the next ones still are.")
            return None

    def _prune_now_and_then(self):
        if time.monotonic() - self._pruned_at < app_settings.get("CHANGE_LOG_PRUNE_SECONDS"):
            return
        self._pruned_at = time.monotonic()
        try:
            change_log.prune()
        except Exception:
            logger.exception("Could not prune the change log; it is tried again later.")

    def _deliver(self, delivery):
        """Run ``delivery``; return what it returned when that is a follow-up to run (a callable)."""
        self._sending_since = time.monotonic()
        try:
            sent = delivery()
        except Exception as exc:
            # Timeouts, refused connections: the layer's fault, not the change's.
            close_old_connections()  # a database connection that broke is not used again
            self._missed += 1
            if isinstance(exc, TIMEOUTS):
                self._begin_outage(f"no answer within {app_settings.get('LAYER_SEND_TIMEOUT')} s")
            else:
                self._begin_outage(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return
        finally:
            self._sending_since = None
        if callable(sent):
            return sent
        if sent:
            self._end_outage()
        return None

    def _watch(self):
        """Report a send that hangs (a layer that stopped answering) while it hangs."""
        bound = app_settings.get("LAYER_SEND_TIMEOUT")
        while True:
            time.sleep(bound / 10)
            since = self._sending_since
            if since is not None and time.monotonic() - since > bound:
                self._begin_outage(f"no answer within {bound} s")

    def _begin_outage(self, reason):
        with self._lock:
            if self._outage_started is not None:
                return
            self._outage_started = time.monotonic()
        if transport.delivers_from_log():
            logger.error(
                "Notifications are not getting through to the channel layer (%s). The changes are saved, and "
                "servers read them from the change log meanwhile, within %s s. Logged once per outage.",
                reason,
                app_settings.get("CHANGE_LOG_POLL_SECONDS"),
            )
            return
        logger.error(
            "Notifications are not getting through to the channel layer (%s). The changes are saved; "
            "subscribers miss them until the layer answers again. Logged once per outage.",
            reason,
        )

    def _end_outage(self):
        with self._lock:
            if self._outage_started is None:
                return
            lasted, missed = time.monotonic() - self._outage_started, self._missed
            self._outage_started, self._missed = None, 0
        if transport.delivers_from_log():
            logger.warning("The channel layer takes notifications again, after %.1f s.", lasted)
            return
        logger.warning(
            "The channel layer takes notifications again, after %.1f s; about %d change(s) reached no "
            "subscriber meanwhile.",
            lasted,
            missed,
        )

    def _flush_at_exit(self):
        wait = app_settings.get("OUTBOX_EXIT_WAIT")
        if not self.flush(wait):
            logger.error(
                "Exiting with notifications still queued after waiting %s s; they are dropped.", wait
            )


#: This process's outbox.
outbox = Outbox()
