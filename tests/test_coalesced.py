"""Coalesced calls, in process: the modern engine forgets the sockets that close together in one call.

Against a server, ``tests/test_concurrency.py`` closes crowds at once (a crowd that
closed one by one kept later connects waiting past daphne's connect timeout);
here, the batching itself, exactly.
"""

import asyncio

import pytest

from graphene_django_subscriptions.engines.coalesced import Coalesced


class Recorder:
    """A batch function that records its calls; each call waits until the test lets it go on."""

    def __init__(self, fail_on=None):
        self.calls = []
        self.go_on = asyncio.Event()
        self.fail_on = fail_on

    async def __call__(self, items):
        self.calls.append(sorted(items))
        await self.go_on.wait()
        if self.fail_on in items:
            raise ValueError(f"no {self.fail_on}")
        return {item: item.upper() for item in items if item != "missing"}


def run(coroutine):
    return asyncio.run(coroutine)


def test_items_awaited_while_a_call_runs_go_together_in_the_next_call():
    async def scenario():
        batch = Recorder()
        coalesced = Coalesced(batch)
        first = asyncio.ensure_future(coalesced("a"))
        await asyncio.sleep(0)  # the first call starts with "a" alone
        rest = [asyncio.ensure_future(coalesced(item)) for item in ("b", "c", "missing")]
        await asyncio.sleep(0)
        batch.go_on.set()
        return await first, await asyncio.gather(*rest), batch.calls

    first, rest, calls = run(scenario())
    assert (first, rest, calls) == ("A", ["B", "C", None], [["a"], ["b", "c", "missing"]])


def test_a_failed_call_fails_its_own_items_only():
    async def scenario():
        batch = Recorder(fail_on="bad")
        coalesced = Coalesced(batch)
        failing = [asyncio.ensure_future(coalesced(item)) for item in ("bad", "with-bad")]
        await asyncio.sleep(0)
        later = asyncio.ensure_future(coalesced("later"))
        batch.go_on.set()
        outcomes = await asyncio.gather(*failing, return_exceptions=True)
        return [str(outcome) for outcome in outcomes], await later, batch.calls

    outcomes, later, calls = run(scenario())
    assert (outcomes, later, calls) == (["no bad", "no bad"], "LATER", [["bad", "with-bad"], ["later"]])


def test_a_cancelled_await_leaves_the_call_to_the_others():
    async def scenario():
        batch = Recorder()
        coalesced = Coalesced(batch)
        leaving = asyncio.ensure_future(coalesced("leaving"))
        staying = asyncio.ensure_future(coalesced("staying"))
        await asyncio.sleep(0)
        leaving.cancel()
        batch.go_on.set()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying, batch.calls

    assert run(scenario()) == ("STAYING", [["leaving", "staying"]])


def test_a_new_event_loop_starts_afresh_after_one_ended_mid_call():
    calls = []

    async def batch(items):
        calls.append(sorted(items))
        if "abandoned" in items:
            await asyncio.Event().wait()  # the loop ends under it
        return {item: item.upper() for item in items}

    coalesced = Coalesced(batch)

    async def abandoned():
        asyncio.ensure_future(coalesced("abandoned"))
        await asyncio.sleep(0)

    run(abandoned())
    assert (run(coalesced("next")), calls) == ("NEXT", [["abandoned"], ["next"]])
