"""Meta options are checked when a Subscription class is created."""

import pytest
from django.contrib.auth.models import Group, User
from rest_framework import serializers

from example.serializers import GroupSerializer, UserSerializer
from example.subscriptions import GroupSubscription, UserSubscription
from graphene_django_subscriptions import GraphqlAPIDemultiplexer, Subscription


def declare(name="Bad", **meta):
    return type(name, (Subscription,), {"Meta": type("Meta", (), meta), "__module__": __name__})


class PlainSerializer(serializers.Serializer):
    name = serializers.CharField()


@pytest.mark.parametrize(
    "meta, message",
    [
        (
            {"stream": "x1"},
            "Bad.Meta.serializer_class must be a DRF serializer class, e.g. serializer_class = UserSerializer (got None).",
        ),
        (
            {"stream": "x2", "serializer_class": PlainSerializer},
            "Bad.Meta.serializer_class PlainSerializer has no Meta.model: use a ModelSerializer that names the model to follow.",
        ),
        (
            {"serializer_class": UserSerializer},
            "Bad.Meta.stream must be the stream name clients use on the socket: 1 to 40 letters, digits, '-', '_' or '.', e.g. stream = 'users' (got None).",
        ),
        (
            {"serializer_class": UserSerializer, "stream": "my users"},
            "Bad.Meta.stream must be the stream name clients use on the socket: 1 to 40 letters, digits, '-', '_' or '.', e.g. stream = 'users' (got 'my users').",
        ),
        (
            {"serializer_class": UserSerializer, "stream": "x3", "queryset": Group.objects.all()},
            "Bad.Meta.queryset is a QuerySet of Group, but serializer_class UserSerializer serializes User: filter User.objects instead.",
        ),
        (
            {"serializer_class": UserSerializer, "stream": "x4", "queryset": [1]},
            "Bad.Meta.queryset must be a QuerySet of User (got [1]).",
        ),
        (
            {"serializer_class": UserSerializer, "stream": "x5", "permission_classes": [object()]},
            "Bad.Meta.permission_classes must list classes with a has_permission(user, action, pk) method",
        ),
    ],
)
def test_invalid_meta_fails_at_class_creation(meta, message):
    with pytest.raises(TypeError) as info:
        declare(**meta)
    assert str(info.value).startswith(message)


def test_a_stream_belongs_to_one_subscription():
    with pytest.raises(ValueError) as info:
        declare("Again", serializer_class=UserSerializer, stream="users")
    assert str(info.value) == (
        "Again.Meta.stream 'users' is already used by example.subscriptions.UserSubscription: "
        "give each Subscription its own stream."
    )


def test_field_enums_have_a_type_name_per_subscription():
    staff_like = declare(
        "AdminSubscription",
        serializer_class=UserSerializer,
        stream="admins",
        queryset=User.objects.filter(is_superuser=True),
    )
    names = {
        sub._meta.arguments["data"].type.of_type.of_type._meta.name for sub in (UserSubscription, staff_like)
    }
    assert names == {"UserSubscriptionFields", "AdminSubscriptionFields"}


def test_get_binding_is_one_object_per_stream():
    binding = UserSubscription.get_binding()
    assert binding is UserSubscription.get_binding()
    assert binding.consumer == UserSubscription.get_binding().consumer
    assert binding is not GroupSubscription.get_binding()


def test_demultiplexer_consumers_are_checked():
    with pytest.raises(TypeError) as info:
        type(
            "Demux",
            (GraphqlAPIDemultiplexer,),
            {"consumers": {"people": UserSubscription.get_binding().consumer}},
        )
    assert (
        str(info.value)
        == "Demux.consumers maps 'people' to UserSubscription, whose stream is 'users': use the key 'users'."
    )
    with pytest.raises(TypeError) as info:
        type("Demux", (GraphqlAPIDemultiplexer,), {"consumers": {"users": print}})
    assert str(info.value).startswith(
        "Demux.consumers['users'] must be a Subscription's binding consumer, e.g. UserSubscription.get_binding().consumer"
    )


def test_group_serializer_fields_are_the_enum_values():
    enum = GroupSubscription._meta.arguments["data"].type.of_type.of_type
    assert [(member.name, member.value) for member in enum._meta.enum] == [("ID", "id"), ("NAME", "name")]
    assert GroupSerializer is GroupSubscription._meta.serializer_class


def test_a_per_recipient_rule_must_be_a_classmethod_and_is_inherited():
    def get_queryset(cls, user):
        return User.objects.all()

    meta = type("Meta", (), {"serializer_class": UserSerializer, "stream": "x-rule"})
    with pytest.raises(TypeError) as info:
        type("Ruled", (Subscription,), {"Meta": meta, "get_queryset": get_queryset, "__module__": __name__})
    assert str(info.value) == (
        "Ruled.get_queryset must be a classmethod: "
        "@classmethod def get_queryset(cls, user): return cls.scope().filter(...)"
    )
    assert UserSubscription._meta.per_recipient is True
    assert GroupSubscription._meta.per_recipient is False
    ruled = type(
        "Ruled",
        (Subscription,),
        {"Meta": meta, "get_queryset": classmethod(get_queryset), "__module__": __name__},
    )
    child_meta = type("Meta", (), {"serializer_class": UserSerializer, "stream": "x-rule-child"})
    assert type("Child", (ruled,), {"Meta": child_meta, "__module__": __name__})._meta.per_recipient is True
