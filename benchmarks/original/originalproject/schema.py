"""The root schema: a query, the user mutations and the 0.0.9 user subscription."""

import graphene
from django.contrib.auth.models import User

from example.types import UserType

from .mutations import UserSerializerMutation
from .subscriptions import UserSubscription


class RootQuery(graphene.ObjectType):
    """The project root query definition."""

    users = graphene.List(UserType)

    def resolve_users(self, info):
        return User.objects.order_by("id")


class RootMutation(graphene.ObjectType):
    """The project root mutation definition."""

    create_user = UserSerializerMutation.CreateField()
    update_user = UserSerializerMutation.UpdateField()
    delete_user = UserSerializerMutation.DeleteField()


class RootSubscription(graphene.ObjectType):
    """The project root subscription definition."""

    user_subscription = UserSubscription.Field()


schema = graphene.Schema(query=RootQuery, mutation=RootMutation, subscription=RootSubscription)
