"""One Subscription per followed model."""

from django.contrib.auth.models import User

from graphene_django_subscriptions import Subscription

from .serializers import GroupSerializer, UserSerializer


class UserSubscription(Subscription):
    class Meta:
        serializer_class = UserSerializer
        stream = "users"
        description = "User Subscription"

    @classmethod
    def get_queryset(cls, user):
        """Everybody hears of active users; the serializer decides who reads an email address."""
        return User.objects.filter(is_active=True)


class GroupSubscription(Subscription):
    class Meta:
        serializer_class = GroupSerializer
        stream = "groups"
        description = "Group Subscription"
        # What clients may filter on (graphene-django's form): groupChanges(name_Startswith: "team-").
        filter_fields = {"name": ["exact", "icontains", "startswith"]}
