"""DRF serializers: they decide what a notification's ``data`` holds."""

from django.contrib.auth.models import Group, User
from rest_framework import serializers


class UserSerializer(serializers.ModelSerializer):
    """A user as the users stream shows them: the email address only to the user and to staff.

    ``context["user"]`` is the recipient (the stream has a per-recipient rule).
    The superuser flag and the password hash are never part of it.
    """

    class Meta:
        model = User
        fields = ("id", "username", "first_name", "last_name", "email")

    def to_representation(self, user):
        data = super().to_representation(user)
        viewer = self.context.get("user")
        if viewer is None or not (viewer.is_staff or viewer.pk == user.pk):
            data.pop("email", None)
        return data


class GroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = Group
        fields = ("id", "name")
