"""A demultiplexer serving every stream, the test ones included."""

import asyncio

from example.consumers import CustomAppDemultiplexer
from example.settings import LEGACY

from .streams import (
    CountedSubscription,
    FilteredArticleSubscription,
    FragileSubscription,
    GuardedSubscription,
    MarkerSubscription,
    OwnedSubscription,
    OwnRowSubscription,
    StaffSubscription,
    TeamSubscription,
)


class TestDemultiplexer(CustomAppDemultiplexer):
    consumers = dict(
        CustomAppDemultiplexer.consumers,
        staff=StaffSubscription.get_binding().consumer,
        counted=CountedSubscription.get_binding().consumer,
        fragile=FragileSubscription.get_binding().consumer,
        guarded=GuardedSubscription.get_binding().consumer,
        owned=OwnedSubscription.get_binding().consumer,
        markers=MarkerSubscription.get_binding().consumer,
        teams=TeamSubscription.get_binding().consumer,
        **{
            "own-row": OwnRowSubscription.get_binding().consumer,
            "filtered-articles": FilteredArticleSubscription.get_binding().consumer,
        },
    )


class SlowToCloseDemultiplexer(TestDemultiplexer):
    """Takes 30 s to close (modern engine): daphne kills it first when its close timeout is shorter."""

    async def disconnect(self, code):
        await asyncio.sleep(30)
        await super().disconnect(code)


if not LEGACY:
    from channels.db import database_sync_to_async
    from django.core.exceptions import PermissionDenied
    from graphene.validation import depth_limit_validator
    from rest_framework.authtoken.models import Token

    from graphene_django_subscriptions import GraphqlWsConsumer

    from .schema import wait_at

    # Takes {"token": "<key>"} in connection_init: a DRF token. docs/standard-clients.rst shows this very class.
    class TokenGraphqlWsConsumer(GraphqlWsConsumer):
        async def authenticate(self, payload):
            if "token" not in payload:
                return await super().authenticate(payload)  # the session's user, or anonymous
            token = await database_sync_to_async(
                Token.objects.select_related("user").filter(key=str(payload["token"])).first
            )()
            if token is None:
                raise PermissionDenied
            self.authenticated_by(token.key)  # the socket ends with the token, not with a session
            return token.user

    class FaultyGraphqlWsConsumer(GraphqlWsConsumer):
        """Fails on connection_init, as a project's hook with a bug would."""

        async def authenticate(self, payload):
            raise RuntimeError("a deliberate fault in authenticate")

    class SlowToAuthenticateGraphqlWsConsumer(GraphqlWsConsumer):
        """Takes 1.5 s to authenticate: longer than the init wait of a strict server."""

        async def authenticate(self, payload):
            await asyncio.sleep(1.5)
            return await super().authenticate(payload)

    class HoldingGraphqlWsConsumer(GraphqlWsConsumer):
        """With ``{"hold": key}`` in connection_init, holds Channels' one database thread at gate ``key``."""

        async def authenticate(self, payload):
            if "hold" in payload:
                await database_sync_to_async(wait_at)(str(payload["hold"]))
            return await super().authenticate(payload)

    class ShallowGraphqlWsConsumer(GraphqlWsConsumer):
        """Refuses documents nested deeper than a field and its fields, as a project would limit its HTTP view."""

        validation_rules = [depth_limit_validator(max_depth=1)]
