"""The example schema with the test streams mounted beside its own."""

import asyncio
import json
import os
import tempfile
import time

import graphene

from example.schema import RootMutation, RootQuery, RootSubscription
from example.settings import LEGACY

from .streams import (
    ArticleDetailSubscription,
    ArticleSubscription,
    CountedSubscription,
    FragileSubscription,
    GuardedSubscription,
    OwnedSubscription,
    OwnRowSubscription,
    StaffArticleSubscription,
    StaffSubscription,
)


class TestSubscription(RootSubscription):
    staff_subscription = StaffSubscription.Field()
    counted_subscription = CountedSubscription.Field()
    fragile_subscription = FragileSubscription.Field()
    guarded_subscription = GuardedSubscription.Field()
    owned_subscription = OwnedSubscription.Field()
    own_row_subscription = OwnRowSubscription.Field()
    article_subscription = ArticleSubscription.Field()
    staff_article_subscription = StaffArticleSubscription.Field()
    if not LEGACY:
        staff_changes = StaffSubscription.ChangesField()
        counted_changes = CountedSubscription.ChangesField()
        fragile_changes = FragileSubscription.ChangesField()
        guarded_changes = GuardedSubscription.ChangesField()
        owned_changes = OwnedSubscription.ChangesField()
        own_row_changes = OwnRowSubscription.ChangesField()
        article_changes = ArticleSubscription.ChangesField()
        staff_article_changes = StaffArticleSubscription.ChangesField()
        article_detail_changes = ArticleDetailSubscription.ChangesField()
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


#: Where ``held`` queries find their gates (the tests' ``gates.Gate`` makes and opens them).
GATES = os.path.join(tempfile.gettempdir(), "gds-gates")


class TestQuery(RootQuery):
    class Meta:
        name = "RootQuery"  # as the example names it

    #: What a resolver reads of ``info.context``, as JSON.
    context_seen = graphene.String()

    #: Waits until the test opens the gate ``key`` (at most 20 s): a query that runs as long as a test needs.
    held = graphene.String(key=graphene.String(required=True))

    def resolve_held(root, info, key):
        gate = os.path.join(GATES, key)
        os.makedirs(GATES, exist_ok=True)
        open(gate + ".started", "w").close()
        deadline = time.monotonic() + 20
        while not os.path.exists(gate + ".open") and time.monotonic() < deadline:
            time.sleep(0.01)
        return key

    def resolve_context_seen(root, info):
        context = info.context
        return json.dumps(
            {
                "user": context.user.username or "anonymous",
                "session": getattr(context.session, "session_key", None),
                "scope": {"type": context.scope["type"], "path": context.scope["path"]},
                "connection_params": getattr(context, "connection_params", None),
                "META": {
                    name: context.META.get(name) for name in ("HTTP_COOKIE", "HTTP_X_CLIENT", "REMOTE_ADDR")
                },
                "COOKIES": context.COOKIES,
            },
            sort_keys=True,
        )


schema = graphene.Schema(query=TestQuery, mutation=RootMutation, subscription=TestSubscription)
