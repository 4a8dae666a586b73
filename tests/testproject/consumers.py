"""A demultiplexer serving every stream, the test ones included."""

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
