"""graphene-django-extras mutations, so a person can change users and groups and watch."""

from graphene_django_extras import DjangoSerializerMutation

from . import types  # noqa: F401  (registers the result type of the user mutations first)
from .serializers import GroupSerializer, UserSerializer


class UserSerializerMutation(DjangoSerializerMutation):
    class Meta:
        serializer_class = UserSerializer
        description = "Create, update or delete a user"


class GroupSerializerMutation(DjangoSerializerMutation):
    class Meta:
        serializer_class = GroupSerializer
        description = "Create, update or delete a group"
