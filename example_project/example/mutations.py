"""graphene-django-extras mutations, so a person can change users and groups and watch.

Each one needs a logged-in user with Django's permission for it
(``auth.add_user``, ``auth.change_group``, ...; a superuser has them all),
as any API that changes users should: ``manage.py demo_admin`` makes one.
"""

from graphene_django.types import ErrorType
from graphene_django_extras import DjangoSerializerMutation

from . import types  # noqa: F401  (registers the result type of the user mutations first)
from .serializers import GroupSerializer, UserSerializer


class PermittedMutation:
    """Create, update and delete only for users with the model's add, change and delete permissions."""

    @classmethod
    def refusal(cls, info, action):
        """The error result when the request's user may not ``action`` (add, change, delete); else None."""
        user = info.context.user
        options = cls._meta.model._meta
        permission = f"{options.app_label}.{action}_{options.model_name}"
        if user.is_authenticated and user.has_perm(permission):
            return None
        message = f"Permission denied: log in as a user with the {permission} permission."
        return cls.get_errors([ErrorType(field="non_field_errors", messages=[message])])

    @classmethod
    def create(cls, root, info, **kwargs):
        return cls.refusal(info, "add") or super().create(root, info, **kwargs)

    @classmethod
    def update(cls, root, info, **kwargs):
        return cls.refusal(info, "change") or super().update(root, info, **kwargs)

    @classmethod
    def delete(cls, root, info, **kwargs):
        return cls.refusal(info, "delete") or super().delete(root, info, **kwargs)


class UserSerializerMutation(PermittedMutation, DjangoSerializerMutation):
    class Meta:
        serializer_class = UserSerializer
        description = "Create, update or delete a user"


class GroupSerializerMutation(PermittedMutation, DjangoSerializerMutation):
    class Meta:
        serializer_class = GroupSerializer
        description = "Create, update or delete a group"
