"""What the database remembers of open sockets: recorded on connect, kept by a lease, forgotten on close.

A socket's row (and its subscription records) must go when the socket goes,
even when nothing runs its ``disconnect()``: a killed server, a consumer
killed while closing, a disconnect message lost. Two rules find such rows:

* On a channel layer that lives in one process (the in-memory ones), every
  socket recorded before this process started is unreachable.
* Where sockets hold a lease (the modern engine), each server process renews
  the lease of its open sockets every third of ``SOCKET_LEASE_SECONDS``; a row
  whose lease ran out belongs to no live consumer. Without leases (the legacy
  engine, whose server gives the application no word of a live socket), a
  Redis layer's ``group_expiry`` is the bound: the socket's groups are gone.
"""

import logging
import time
from datetime import timedelta

from django.db import DatabaseError, connections, router, transaction
from django.db.models import F
from django.utils import timezone

from . import app_settings, chunks, recipients
from .models import SubscriberSocket, SubscriptionRecord

logger = logging.getLogger(__name__)

#: When this process started. Through a channel layer that lives in one process,
#: no socket recorded before this can be reached any more.
PROCESS_STARTED = timezone.now()
#: Seconds between two sweeps at connect time for unreachable sockets in one process.
SWEEP_INTERVAL = 60
_next_sweep = 0.0


def remember(channel_name, *, user=None, session_key=None):
    """Record a newly connected socket and its user so requests may name it: one insert.

    ``user`` opened the socket (None: anonymous) and ``session_key`` is the
    session it came with, if any.
    """
    try:
        SubscriberSocket.objects.create(
            channel_name=channel_name,
            user_key=recipients.key_for(user),
            session_key=session_key or "",
            password_key=recipients.password_key(user),
        )
    except DatabaseError:
        database = connections[router.db_for_write(SubscriberSocket)]
        if SubscriberSocket._meta.db_table not in database.introspection.table_names():
            logger.error(
                "A socket was refused: the table %s does not exist. Run `python manage.py migrate` "
                "to create graphene_django_subscriptions' tables.",
                SubscriberSocket._meta.db_table,
            )
        raise


def forget_one(channel_name):
    """Drop a closed socket's records; return the groups it was in."""
    return forget(SubscriberSocket.objects.filter(channel_name=channel_name)).get(channel_name, set())


def forget(sockets):
    """Delete the ``sockets`` queryset and its records in one transaction.

    Returns ``{channel_name: groups}``: the groups each forgotten socket was in.
    """
    with transaction.atomic():
        # Lock first (see subscribe_requests._claim_socket): a request naming one of these sockets
        # either finishes before, and its records are found below, or finds none.
        if not sockets.update(connected_at=F("connected_at")):
            return {}
        forgotten = {name: set() for name in sockets.values_list("channel_name", flat=True)}
        records = SubscriptionRecord.objects.filter(socket__in=sockets).select_related("socket")
        for record in records:
            forgotten[record.socket.channel_name].add(record.group)
        records.delete()
        sockets.delete()
    return forgotten


def forget_named(channel_names):
    """``forget`` the sockets called ``channel_names``, a chunk at a time."""
    forgotten = {}
    names = list(channel_names)
    for chunk in chunks.of(names):
        forgotten.update(forget(SubscriberSocket.objects.filter(channel_name__in=chunk)))
    return forgotten


def renew(channel_names):
    """Renew the lease of this process's open sockets; return the names whose rows are gone.

    A row can be gone while its consumer lives: another process found the
    lease run out (this process stalled for longer than the lease), or the
    socket's access ended. Such a socket can be reached by no request: its
    consumer should close it.
    """
    names = list(channel_names)
    kept = set()
    now = timezone.now()
    for chunk in chunks.of(names):
        rows = SubscriberSocket.objects.filter(channel_name__in=chunk)
        if rows.update(renewed_at=now) == len(chunk):
            kept.update(chunk)  # every row is there: no need to read them back
        else:
            kept.update(rows.values_list("channel_name", flat=True))
    return [name for name in names if name not in kept]


def lease_interval():
    """Seconds between two renewals of a process's leases: a third of the lease."""
    return app_settings.get("SOCKET_LEASE_SECONDS") / 3


def forget_expired():
    """Forget the sockets whose lease ran out; return ``{channel_name: groups}``."""
    cutoff = timezone.now() - timedelta(seconds=app_settings.get("SOCKET_LEASE_SECONDS"))
    return _forget_logged(SubscriberSocket.objects.filter(renewed_at__lt=cutoff), "whose lease ran out")


def forget_unreachable(*, group_expiry=None, process_local=False):
    """Drop the records of sockets whose server stopped without closing them; return ``{name: groups}``.

    A socket older than the layer's ``group_expiry`` has lost its group
    memberships already. On a layer that lives in this process only (the
    in-memory ones), so has every socket recorded before this process started.
    Runs at most once every ``SWEEP_INTERVAL`` seconds per process.
    """
    global _next_sweep
    if time.monotonic() < _next_sweep:
        return {}
    _next_sweep = time.monotonic() + SWEEP_INTERVAL
    cutoffs = []
    if group_expiry:
        cutoffs.append(timezone.now() - timedelta(seconds=group_expiry))
    if process_local:
        cutoffs.append(PROCESS_STARTED)
    if not cutoffs:
        return {}
    stale = SubscriberSocket.objects.filter(connected_at__lt=max(cutoffs))
    return _forget_logged(stale, "left by a server that stopped without closing them")


def _forget_logged(stale, why):
    try:
        forgotten = forget(stale)
    except DatabaseError:
        # Another process may be sweeping the same rows; the next sweep tries again.
        logger.warning("Could not forget the sockets %s this time.", why, exc_info=True)
        return {}
    if forgotten:
        logger.info("Forgot %d socket(s) %s.", len(forgotten), why)
    return forgotten
