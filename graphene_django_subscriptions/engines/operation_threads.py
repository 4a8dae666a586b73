"""Where graphql-transport-ws work runs (modern engine): queries on threads of their own, a few a socket.

Channels runs every ``database_sync_to_async`` call of a process on one
thread. A query run there would hold up every other socket's database work
(recording a subscription, closing a socket) for as long as it takes. So
operations run on a pool of ``OPERATION_THREADS`` threads, and each socket
holds at most ``MAX_RUNNING_OPERATIONS_PER_SOCKET`` of them: its further
operations wait their turn while the socket reads on, and no socket can take
the whole pool. New documents are checked on one thread of their own.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async

from .. import app_settings

_pools = {}
_pools_lock = threading.Lock()


def _pool(name, threads):
    """This process's pool ``name`` of ``threads`` threads, made on first use."""
    with _pools_lock:
        if name not in _pools:
            _pools[name] = ThreadPoolExecutor(
                threads, thread_name_prefix=f"graphene-django-subscriptions {name}"
            )
        return _pools[name]


def checking_thread():
    """The one thread of this process that parses and validates new documents.

    One, because the more threads do such work at once, the longer the event
    loop (which writes every socket) waits for Python's lock each time.
    """
    return _pool("checking", 1)


class SocketSlots:
    """One socket's share of the operation threads: how many of its operations run, and how many wait."""

    def __init__(self):
        self._running = asyncio.Semaphore(app_settings.get("MAX_RUNNING_OPERATIONS_PER_SOCKET"))
        self.waiting = 0

    def full(self):
        """Whether one more operation would wait beyond ``MAX_WAITING_OPERATIONS_PER_SOCKET``."""
        return self._running.locked() and self.waiting >= app_settings.get(
            "MAX_WAITING_OPERATIONS_PER_SOCKET"
        )

    async def run(self, function, *args):
        """``function(*args)`` on an operation thread, once one of the socket's slots is free.

        The slot stays taken until the function returns, even when the caller is
        cancelled first (a client's ``complete``): a thread cannot be stopped,
        and a socket must not start more work than its slots while old work runs.
        """
        self.waiting += 1
        try:
            await self._running.acquire()
        finally:
            self.waiting -= 1
        # Channels' wrapper: stale connections closed around the call, and async resolvers
        # (async_to_sync inside) still run on the server's loop.
        executor = _pool("operations", app_settings.get("OPERATION_THREADS"))
        call = database_sync_to_async(function, thread_sensitive=False, executor=executor)
        running = asyncio.ensure_future(call(*args))
        running.add_done_callback(lambda _: self._running.release())
        return await asyncio.shield(running)
