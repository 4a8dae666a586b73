"""The user mutations (graphene-django-extras), the trigger of every notification, as in the example."""

from django.contrib.auth.models import User
from graphene_django_extras import DjangoObjectType, DjangoSerializerMutation

from example.serializers import UserSerializer


class UserType(DjangoObjectType):
    """A user as the mutations return it.

    Declared before the mutation: it would otherwise make a type of every field
    of the model, the password hash included.
    """

    class Meta:
        model = User
        only_fields = ("id", "username", "first_name", "last_name", "email")


class UserSerializerMutation(DjangoSerializerMutation):
    class Meta:
        serializer_class = UserSerializer
        description = "Create, update or delete a user"
