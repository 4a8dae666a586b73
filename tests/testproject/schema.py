"""The example schema with the test streams mounted beside its own."""

import asyncio

import graphene

from example.schema import RootMutation, RootQuery, RootSubscription
from example.settings import LEGACY

from .streams import (
    CountedSubscription,
    FragileSubscription,
    GuardedSubscription,
    OwnedSubscription,
    OwnRowSubscription,
    StaffSubscription,
)


class TestSubscription(RootSubscription):
    staff_subscription = StaffSubscription.Field()
    counted_subscription = CountedSubscription.Field()
    fragile_subscription = FragileSubscription.Field()
    guarded_subscription = GuardedSubscription.Field()
    owned_subscription = OwnedSubscription.Field()
    own_row_subscription = OwnRowSubscription.Field()
    if not LEGACY:
        staff_changes = StaffSubscription.ChangesField()
        counted_changes = CountedSubscription.ChangesField()
        fragile_changes = FragileSubscription.ChangesField()
        guarded_changes = GuardedSubscription.ChangesField()
        owned_changes = OwnedSubscription.ChangesField()
        own_row_changes = OwnRowSubscription.ChangesField()
        #: A subscription field of the project's own (not a stream): start, start - 1, ..., 0.
        countdown = graphene.Int(start=graphene.Int(required=True))

        async def subscribe_countdown(root, info, start):
            for number in range(start, -1, -1):
                if number == 13:
                    raise RuntimeError("13 is unlucky")  # a generator that fails
                yield number
                await asyncio.sleep(0.01)

        def resolve_countdown(number, info, start):
            return number


schema = graphene.Schema(query=RootQuery, mutation=RootMutation, subscription=TestSubscription)
