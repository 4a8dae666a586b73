"""A demultiplexer serving every stream, the test ones included."""

import asyncio

from example.consumers import CustomAppDemultiplexer

from .streams import (
    CountedSubscription,
    FragileSubscription,
    GuardedSubscription,
    OwnedSubscription,
    OwnRowSubscription,
    StaffSubscription,
)


class TestDemultiplexer(CustomAppDemultiplexer):
    consumers = dict(
        CustomAppDemultiplexer.consumers,
        staff=StaffSubscription.get_binding().consumer,
        counted=CountedSubscription.get_binding().consumer,
        fragile=FragileSubscription.get_binding().consumer,
        guarded=GuardedSubscription.get_binding().consumer,
        owned=OwnedSubscription.get_binding().consumer,
        **{"own-row": OwnRowSubscription.get_binding().consumer},
    )


class SlowToCloseDemultiplexer(TestDemultiplexer):
    """Takes 30 s to close (modern engine): daphne kills it first when its close timeout is shorter."""

    async def disconnect(self, code):
        await asyncio.sleep(30)
        await super().disconnect(code)
