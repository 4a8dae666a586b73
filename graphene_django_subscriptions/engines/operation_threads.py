"""Where graphql-transport-ws queries and mutations run (modern engine): threads of their own, a few a socket.

Channels runs every ``database_sync_to_async`` call of a process on one
thread. A query run there would hold up every other socket's database work
(recording a subscription, closing a socket) for as long as it takes. So
operations run on a pool of ``OPERATION_THREADS`` threads, and each socket
holds at most ``MAX_RUNNING_OPERATIONS_PER_SOCKET`` of them: its further
operations wait their turn while the socket reads on, and no socket can take
the whole pool.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async

from .. import limits

_pool = None
_pool_lock = threading.Lock()


def _threads():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=limits.get("OPERATION_THREADS"),
                thread_name_prefix="graphene-django-subscriptions",
            )
        return _pool


class SocketSlots:
    """One socket's share of the operation threads: how many of its operations run, and how many wait."""

    def __init__(self):
        self._running = asyncio.Semaphore(limits.get("MAX_RUNNING_OPERATIONS_PER_SOCKET"))
        self.waiting = 0

    def full(self):
        """Whether one more operation would wait beyond ``MAX_WAITING_OPERATIONS_PER_SOCKET``."""
        return self._running.locked() and self.waiting >= limits.get("MAX_WAITING_OPERATIONS_PER_SOCKET")

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
        call = database_sync_to_async(function, thread_sensitive=False, executor=_threads())
        running = asyncio.ensure_future(call(*args))
        running.add_done_callback(lambda _: self._running.release())
        return await asyncio.shield(running)
