"""A demultiplexer serving every stream, the test ones included."""

import asyncio

from example.consumers import CustomAppDemultiplexer
from example.settings import LEGACY

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


if not LEGACY:
    from channels.db import database_sync_to_async
    from django.contrib.auth.models import User
    from django.core.exceptions import PermissionDenied
    from graphene.validation import depth_limit_validator

    from graphene_django_subscriptions import GraphqlWsConsumer

    class TokenGraphqlWsConsumer(GraphqlWsConsumer):
        """Takes ``{"token": "<username>"}`` in connection_init (a test-only, trusting stand-in for a token)."""

        async def authenticate(self, payload):
            if "token" not in payload:
                return await super().authenticate(payload)
            user = await database_sync_to_async(User.objects.filter(username=payload["token"]).first)()
            if user is None:
                raise PermissionDenied
            return user

    class ShallowGraphqlWsConsumer(GraphqlWsConsumer):
        """Refuses documents nested deeper than a field and its fields, as a project would limit its HTTP view."""

        validation_rules = [depth_limit_validator(max_depth=1)]
