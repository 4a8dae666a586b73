"""The project's root schema: queries, mutations and subscriptions."""

import graphene
from django.contrib.auth.models import Group

from .mutations import GroupSerializerMutation, UserSerializerMutation
from .settings import LEGACY
from .subscriptions import GroupSubscription, UserSubscription
from .types import GroupType, UserType


class RootQuery(graphene.ObjectType):
    """The project root query definition."""

    users = graphene.List(UserType)
    groups = graphene.List(GroupType)
    # Where each stream stands: read it with the data, then subscribe after it (graphql-transport-ws).
    users_cursor = UserSubscription.CursorField()
    groups_cursor = GroupSubscription.CursorField()

    def resolve_users(self, info):
        # The users the users stream would show this visitor, no more.
        return UserSubscription.get_queryset(info.context.user).order_by("id")

    def resolve_groups(self, info):
        return Group.objects.order_by("id")


class RootMutation(graphene.ObjectType):
    """The project root mutation definition."""

    create_user = UserSerializerMutation.CreateField()
    update_user = UserSerializerMutation.UpdateField()
    delete_user = UserSerializerMutation.DeleteField()
    create_group = GroupSerializerMutation.CreateField()
    update_group = GroupSerializerMutation.UpdateField()
    delete_group = GroupSerializerMutation.DeleteField()


class RootSubscription(graphene.ObjectType):
    """The project root subscription definition."""

    user_subscription = UserSubscription.Field()
    group_subscription = GroupSubscription.Field()
    if not LEGACY:
        # The standard protocol (graphql-transport-ws), at ws://<host>/graphql/ (see asgi.py).
        user_changes = UserSubscription.ChangesField()
        group_changes = GroupSubscription.ChangesField()


schema = graphene.Schema(query=RootQuery, mutation=RootMutation, subscription=RootSubscription)
