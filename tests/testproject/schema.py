"""The example schema with the test streams mounted beside its own."""

import graphene

from example.schema import RootMutation, RootQuery, RootSubscription

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


schema = graphene.Schema(query=RootQuery, mutation=RootMutation, subscription=TestSubscription)
