"""The users stream, a 0.0.9 ``Subscription`` of the example's serializer."""

from example.serializers import UserSerializer
from graphene_django_subscriptions import Subscription


class UserSubscription(Subscription):
    class Meta:
        serializer_class = UserSerializer
        stream = "users"
        description = "User Subscription"
