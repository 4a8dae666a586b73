"""The example schema with the test streams mounted beside its own."""

import graphene

from example.schema import RootMutation, RootQuery, RootSubscription

from .streams import (
    CountedSubscription,
    FragileSubscription,
    GuardedSubscription,
    StaffSubscription,
)


class TestSubscription(RootSubscription):
    staff_subscription = StaffSubscription.Field()
    counted_subscription = CountedSubscription.Field()
    fragile_subscription = FragileSubscription.Field()
    guarded_subscription = GuardedSubscription.Field()


schema = graphene.Schema(query=RootQuery, mutation=RootMutation, subscription=TestSubscription)
