"""Many callers, few calls: items that arrive while a call runs go together in the next one.

Channels runs a process's database work on one thread. When a thousand sockets
close at once (a deploy, a network blip), forgetting each in its own
transaction queues a thousand of them on that thread, and the sockets that
connect meanwhile wait behind them, past daphne's connect timeout. Coalesced,
they cost a few statements whatever their number.
"""

import asyncio


class Coalesced:
    """Call ``batch(items)`` (a coroutine function returning ``{item: result}``) for items awaited together.

    ``await coalesced(item)`` returns ``item``'s result (None when ``batch``
    gave none). One call runs at a time; every item awaited while it runs goes
    in the next. A failed call fails the awaits of its items only.
    """

    def __init__(self, batch):
        self._batch = batch
        self._waiting = {}
        self._running = None

    async def __call__(self, item):
        loop = asyncio.get_running_loop()
        if self._running is None or self._running.done() or self._running.get_loop() is not loop:
            # Nothing waits here but the futures of an event loop that ended mid-call (a test's).
            self._waiting = {}
            self._running = loop.create_task(self._run())
        future = self._waiting.get(item)
        if future is None:
            future = self._waiting[item] = loop.create_future()
        # The call goes on for the other items when this await is cancelled.
        return await asyncio.shield(future)

    async def _run(self):
        while self._waiting:
            waiting, self._waiting = self._waiting, {}
            try:
                results = await self._batch(list(waiting))
            except Exception as error:
                for future in waiting.values():
                    if not future.done():
                        future.set_exception(error)
                continue
            for item, future in waiting.items():
                if not future.done():
                    future.set_result(results.get(item))
