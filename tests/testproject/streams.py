"""Streams that exist only to pin behaviour: scoping, failures, permissions, counting."""

from django.contrib.auth.models import Group, User
from rest_framework import serializers

from example.serializers import GroupSerializer, UserSerializer
from graphene_django_subscriptions import Subscription
from graphene_django_subscriptions.permissions import IsAuthenticated

#: Serializer runs of the "counted" stream, read by the tests over HTTP.
RUNS = {"counted": 0}


class CountingUserSerializer(UserSerializer):
    def to_representation(self, instance):
        RUNS["counted"] += 1
        return super().to_representation(instance)


class FragileGroupSerializer(serializers.ModelSerializer):
    """Fails for groups named "boom...", as a buggy serializer would."""

    label = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ("id", "name", "label")

    def get_label(self, group):
        if group.name.startswith("boom"):
            raise RuntimeError(f"cannot label {group.name}")
        return group.name.upper()


class StaffSubscription(Subscription):
    class Meta:
        serializer_class = UserSerializer
        stream = "staff"
        queryset = User.objects.filter(is_staff=True)


class CountedSubscription(Subscription):
    class Meta:
        serializer_class = CountingUserSerializer
        stream = "counted"


class FragileSubscription(Subscription):
    class Meta:
        serializer_class = FragileGroupSerializer
        stream = "fragile"


class GuardedSubscription(Subscription):
    class Meta:
        serializer_class = GroupSerializer
        stream = "guarded"
        permission_classes = [IsAuthenticated]
