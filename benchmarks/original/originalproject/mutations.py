"""The user mutations (graphene-django-extras), the trigger of every notification, as in the example."""

from graphene_django_extras import DjangoSerializerMutation

from example import types  # noqa: F401  (registers the result type of the user mutations first)
from example.serializers import UserSerializer


class UserSerializerMutation(DjangoSerializerMutation):
    class Meta:
        serializer_class = UserSerializer
        description = "Create, update or delete a user"
