"""The GraphQL types of the example's models, as queries and mutation results show them.

``UserType`` is an extras type so that the user mutations return it too (they
use the type registered for the model, or build one with every field, the
password hash included). Declare it before the mutations.
"""

from django.contrib.auth.models import Group, User
from graphene_django import DjangoObjectType
from graphene_django_extras import DjangoObjectType as ExtrasObjectType


class UserType(ExtrasObjectType):
    """A user as any visitor reads it: the email address only to the user and to staff."""

    class Meta:
        model = User
        only_fields = ("id", "username", "first_name", "last_name", "email")

    def resolve_email(user, info):
        # As in the users stream.
        viewer = info.context.user
        return user.email if viewer.is_staff or viewer.pk == user.pk else ""


class GroupType(DjangoObjectType):
    class Meta:
        model = Group
        fields = ("id", "name")
