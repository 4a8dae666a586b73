"""Meta options are checked when a Subscription class is created."""

import django_filters
import pytest
from django.contrib.auth.models import Group, User
from rest_framework import serializers

from example.serializers import GroupSerializer, UserSerializer
from example.subscriptions import GroupSubscription, UserSubscription
from graphene_django_subscriptions import GraphqlAPIDemultiplexer, Subscription
from testproject.models import Article
from testproject.streams import ArticleSerializer


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
        (
            {"serializer_class": UserSerializer, "stream": "x6", "bulk_writes": "no"},
            "Bad.Meta.bulk_writes must be True (the stream hears of QuerySet.update(), bulk_create() and "
            "bulk_update(), the default) or False (it hears of saves and deletes only); got 'no'.",
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


class ByTitle(django_filters.FilterSet):
    """A FilterSet of another model than the serializer's."""

    class Meta:
        model = Group
        fields = ["name"]


def _article_filterset(**filters):
    meta = type("Meta", (), {"model": Article, "fields": []})
    return type("ArticleFilters", (django_filters.FilterSet,), {"Meta": meta, **filters})


def _articles(**meta):
    return declare(serializer_class=ArticleSerializer, stream="bad-articles", **meta)


@pytest.mark.parametrize(
    "meta, message",
    [
        (
            {"filter_fields": "author"},
            "Bad.Meta.filter_fields must list fields, e.g. ['author', 'status'], or map fields to lookups, e.g. {'author': ['exact', 'in'], 'title': ['icontains']} (got 'author').",
        ),
        (
            {"filter_fields": ["writer"]},
            "Bad.Meta.filter_fields['writer']: Article has no field 'writer': choose from id, title, author, status, published, published_on, at.",
        ),
        (
            {"filter_fields": {"title__first": ["exact"]}},
            "Bad.Meta.filter_fields['title__first']: 'title__first' goes on past title, which is no relation.",
        ),
        (
            {"filter_fields": {"author__nickname": ["exact"]}},
            "Bad.Meta.filter_fields['author__nickname']: User has no field 'nickname': choose from "
            + ", ".join(field.name for field in User._meta.get_fields())
            + ".",
        ),
        (
            {"filter_fields": {"title": ["resembles"]}},
            "Bad.Meta.filter_fields['title']: title takes no lookup 'resembles'.",
        ),
        (
            {"filter_fields": {"author": ["icontains"]}},
            "Bad.Meta.filter_fields['author']: 'icontains' compares text, and author is not a text field.",
        ),
        (
            {"filter_fields": {"title": ["year"]}},
            "Bad.Meta.filter_fields['title']: 'year' reads a date, and title is no date or timestamp.",
        ),
        (
            {"filter_fields": {"author": "exact"}},
            "Bad.Meta.filter_fields['author'] must list lookups, e.g. ['exact', 'in'] (got 'exact').",
        ),
        (
            {"filter_fields": ["id"]},
            "Bad.Meta.filter_fields: a filter named 'id' would take the name of the field's own argument 'id': filter on another field, or name the filter otherwise (filterset_class).",
        ),
        (
            {"filter_fields": ["title"], "filterset_class": ByTitle},
            "Bad.Meta.filter_fields and filterset_class are both set: declare the filters once, either as filter_fields or in the FilterSet.",
        ),
        (
            {"filterset_class": ByTitle},
            "Bad.Meta.filterset_class ByTitle filters Group, but the serializer serializes Article: give a FilterSet whose Meta.model is Article.",
        ),
        (
            {"filterset_class": dict},
            "Bad.Meta.filterset_class must be a django-filter FilterSet (got <class 'dict'>).",
        ),
    ],
)
def test_invalid_filters_fail_at_class_creation(meta, message):
    with pytest.raises(TypeError) as info:
        _articles(**meta)
    assert str(info.value) == message


def test_filters_that_only_a_query_can_judge_are_judged_by_one():
    """Across relations, a method of the FilterSet's, a regular expression, text in the collation's order:
    the database judges them (``queried``); the others stay judged in Python from the stored columns."""
    filterset = _article_filterset(
        recent=django_filters.BooleanFilter(method="filter_recent"),
        writer=django_filters.CharFilter(field_name="author__username"),
        filter_recent=lambda self, queryset, name, value: queryset,
    )
    meta = {"serializer_class": ArticleSerializer}
    declaration = declare("ByFilterSet", stream="queried-by-filterset", filterset_class=filterset, **meta)
    assert {name: part.queried for name, part in declaration._meta.filters.parts.items()} == {
        "recent": True,
        "writer": True,
    }
    fields = {"author__username": ["exact"], "title": ["regex", "gt", "icontains"], "author": ["exact"]}
    declaration = declare("ByFields", stream="queried-by-fields", filter_fields=fields, **meta)
    assert {name: part.queried for name, part in declaration._meta.filters.parts.items()} == {
        "author__username": True,
        "title__regex": True,
        "title__gt": True,
        "title__icontains": False,
        "author": False,
    }
