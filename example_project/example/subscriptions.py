"""One Subscription per followed model."""

from graphene_django_subscriptions import Subscription

from .serializers import GroupSerializer, UserSerializer


class UserSubscription(Subscription):
    class Meta:
        serializer_class = UserSerializer
        stream = "users"
        description = "User Subscription"


class GroupSubscription(Subscription):
    class Meta:
        serializer_class = GroupSerializer
        stream = "groups"
        description = "Group Subscription"
