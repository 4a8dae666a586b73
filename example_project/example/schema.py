"""The project's root schema: queries, mutations and subscriptions."""

import graphene
from django.contrib.auth.models import Group, User
from graphene_django import DjangoObjectType

from .mutations import GroupSerializerMutation, UserSerializerMutation
from .subscriptions import GroupSubscription, UserSubscription


class UserType(DjangoObjectType):
    class Meta:
        model = User
        fields = ("id", "username", "first_name", "last_name", "email")

    def resolve_email(user, info):
        # As in the users stream: only the user and staff read an email address.
        viewer = info.context.user
        return user.email if viewer.is_staff or viewer.pk == user.pk else ""


class GroupType(DjangoObjectType):
    class Meta:
        model = Group
        fields = ("id", "name")


class RootQuery(graphene.ObjectType):
    """The project root query definition."""

    users = graphene.List(UserType)
    groups = graphene.List(GroupType)

    def resolve_users(self, info):
        return User.objects.order_by("id")

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


schema = graphene.Schema(query=RootQuery, mutation=RootMutation, subscription=RootSubscription)
