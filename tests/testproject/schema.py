"""The example schema with the test streams mounted beside its own."""

import asyncio
import json
import os
import tempfile
import time

import graphene
from graphene.types.generic import GenericScalar

from example.schema import RootMutation, RootQuery, RootSubscription
from example.settings import LEGACY

from .streams import (
    ArticleDetailSubscription,
    ArticleSubscription,
    BookmarkSubscription,
    CountedSubscription,
    DatedArticleSubscription,
    FilteredArticleSubscription,
    FilteredGroupSubscription,
    FilteredTeamSubscription,
    FilterSetArticleSubscription,
    FragileSubscription,
    GuardedSubscription,
    LiveArticleSubscription,
    MarkerSubscription,
    NoteSubscription,
    OwnedSubscription,
    OwnRowSubscription,
    PublicArticleSubscription,
    QueriedArticleSubscription,
    ReviewSubscription,
    StaffArticleSubscription,
    StaffSubscription,
    TeamSubscription,
)


class TestSubscription(RootSubscription):
    staff_subscription = StaffSubscription.Field()
    counted_subscription = CountedSubscription.Field()
    fragile_subscription = FragileSubscription.Field()
    guarded_subscription = GuardedSubscription.Field()
    owned_subscription = OwnedSubscription.Field()
    own_row_subscription = OwnRowSubscription.Field()
    article_subscription = ArticleSubscription.Field()
    article_detail_subscription = ArticleDetailSubscription.Field()
    marker_subscription = MarkerSubscription.Field()
    review_subscription = ReviewSubscription.Field()
    note_subscription = NoteSubscription.Field()
    bookmark_subscription = BookmarkSubscription.Field()
    team_subscription = TeamSubscription.Field()
    staff_article_subscription = StaffArticleSubscription.Field()
    filtered_article_subscription = FilteredArticleSubscription.Field()
    filter_set_article_subscription = FilterSetArticleSubscription.Field()
    live_article_subscription = LiveArticleSubscription.Field()
    queried_article_subscription = QueriedArticleSubscription.Field()
    dated_article_subscription = DatedArticleSubscription.Field()
    public_article_subscription = PublicArticleSubscription.Field()
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
        marker_changes = MarkerSubscription.ChangesField()
        review_changes = ReviewSubscription.ChangesField()
        note_changes = NoteSubscription.ChangesField()
        filtered_article_changes = FilteredArticleSubscription.ChangesField()
        filter_set_article_changes = FilterSetArticleSubscription.ChangesField()
        live_article_changes = LiveArticleSubscription.ChangesField()
        queried_article_changes = QueriedArticleSubscription.ChangesField()
        dated_article_changes = DatedArticleSubscription.ChangesField()
        public_article_changes = PublicArticleSubscription.ChangesField()
        filtered_group_changes = FilteredGroupSubscription.ChangesField()
        filtered_team_changes = FilteredTeamSubscription.ChangesField()
        team_changes = TeamSubscription.ChangesField()
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

        #: Three events; the second is not an Int, so that event alone carries an error.
        shaky = graphene.Int()

        async def subscribe_shaky(root, info):
            for value in (1, "not a number", 3):
                yield value

        def resolve_shaky(value, info):
            return value

        #: Waits at gate ``key`` before its one event, and at gate ``key-finally`` as it ends.
        gated = graphene.String(key=graphene.String(required=True))

        async def subscribe_gated(root, info, key):
            try:
                await _passed(key)
                yield key
            finally:
                await _passed(key + "-finally")  # an end slow to run, even when cancelled
                open(os.path.join(GATES, key + ".ended"), "w").close()

        def resolve_gated(value, info, key):
            return value


#: Where ``held`` queries and ``gated`` subscriptions find their gates (tests/gates.py opens them).
GATES = os.path.join(tempfile.gettempdir(), "gds-gates")


def _arrive(gate):
    """Mark ``gate`` reached; the file that opens it, and how long to wait for it at most."""
    os.makedirs(GATES, exist_ok=True)
    open(os.path.join(GATES, gate + ".started"), "w").close()
    return os.path.join(GATES, gate + ".open"), time.monotonic() + 20


def wait_at(gate):
    """Wait, on this thread, until the test opens ``gate`` (at most 20 s)."""
    opened, deadline = _arrive(gate)
    while not os.path.exists(opened) and time.monotonic() < deadline:
        time.sleep(0.01)


async def _passed(gate):
    opened, deadline = _arrive(gate)
    while not os.path.exists(opened) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


class TestQuery(RootQuery):
    class Meta:
        name = "RootQuery"  # as the example names it

    #: What a resolver reads of ``info.context``, as JSON.
    context_seen = graphene.String()

    articles_cursor = ArticleSubscription.CursorField()

    #: Waits until the test opens the gate ``key`` (at most 20 s): a query that runs as long as a test needs.
    held = graphene.String(key=graphene.String(required=True))

    #: Raises: its message reaches the client word for word.
    always_fails = graphene.String()

    #: Answered by an async resolver.
    later = graphene.String()

    #: A value JSON cannot encode (a set): the result cannot be sent.
    unencodable = GenericScalar()

    def resolve_held(root, info, key):
        wait_at(key)
        return key

    def resolve_always_fails(root, info):
        raise ValueError("This field always fails.")

    async def resolve_later(root, info):
        await asyncio.sleep(0.01)
        return "later"

    def resolve_unencodable(root, info):
        return {"numbers": {1, 2}}

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
