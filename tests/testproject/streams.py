"""Streams that exist only to pin behaviour: scoping, failures, permissions, per-recipient rules, counting."""

import django_filters
from django.contrib.auth.models import Group, User
from rest_framework import serializers

from example.serializers import GroupSerializer, UserSerializer
from graphene_django_subscriptions import Subscription
from graphene_django_subscriptions.permissions import BasePermission, IsAuthenticated

from .models import Article, Bookmark, Marker, Note, Review

#: Serializer runs of the "counted" and "owned" streams, and the owned stream's
#: rule checks, read by the tests over HTTP.
RUNS = {"counted": 0, "owned": 0, "owned_checks": 0}


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


class OwnedGroupSerializer(serializers.ModelSerializer):
    """A group, and who it was serialized for (``context["user"]``)."""

    viewer = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ("id", "name", "viewer")

    def get_viewer(self, group):
        RUNS["owned"] += 1
        return self.context["user"].username


class OwnedSubscription(Subscription):
    """Each user hears only of the groups named after them ("<username>-...")."""

    class Meta:
        serializer_class = OwnedGroupSerializer
        stream = "owned"

    @classmethod
    def get_queryset(cls, user):
        RUNS["owned_checks"] += 1
        if not user.is_authenticated:
            return Group.objects.none()
        return Group.objects.filter(name__startswith=f"{user.username}-")


class OwnRowOnly(BasePermission):
    """Users may follow their own row; the id arrives as the model's Python value."""

    message = "Permission denied: follow your own user only."

    def has_permission(self, user, action, pk):
        return user.is_authenticated and pk == user.pk


class OwnRowSubscription(Subscription):
    class Meta:
        serializer_class = UserSerializer
        stream = "own-row"
        permission_classes = [OwnRowOnly]


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


class TeamSubscription(Subscription):
    """The groups a user belongs to, for that user alone (the documentation's per-recipient rule)."""

    class Meta:
        serializer_class = GroupSerializer
        stream = "teams"
        permission_classes = [IsAuthenticated]

    @classmethod
    def get_queryset(cls, user):
        """The groups ``user`` belongs to: the only ones they hear of."""
        return cls.scope().filter(user=user)


class ArticleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Article
        fields = ("id", "title", "author")


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username")


class ArticleDetailSerializer(serializers.ModelSerializer):
    """Nested, choice, date and time fields, as a ChangesField types them."""

    author = AuthorSerializer(read_only=True)

    class Meta:
        model = Article
        fields = ("id", "title", "author", "status", "published", "published_on", "at")


class ArticleDetailSubscription(Subscription):
    """Hears saves and deletes only, not the ORM's bulk writes."""

    class Meta:
        serializer_class = ArticleDetailSerializer
        stream = "article-details"
        bulk_writes = False


class ArticleSubscription(Subscription):
    class Meta:
        serializer_class = ArticleSerializer
        stream = "articles"


class StaffArticleSubscription(Subscription):
    """Articles by staff users: a scope across a join, which the saved row alone cannot decide."""

    class Meta:
        serializer_class = ArticleSerializer
        stream = "staff-articles"
        queryset = Article.objects.filter(author__is_staff=True)


class FilteredArticleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Article
        fields = ("id", "title", "author", "status", "published", "published_on")


class FilteredArticleSubscription(Subscription):
    """Articles a client filters, with every lookup the package judges."""

    class Meta:
        serializer_class = FilteredArticleSerializer
        stream = "filtered-articles"
        filter_fields = {
            "author": ["exact", "in"],
            "status": ["exact", "in"],
            "title": ["exact", "iexact", "contains", "icontains", "startswith", "endswith"],
            "published": ["isnull", "gt", "lte", "year"],
            "published_on": ["range", "month", "day"],
        }


class LiveArticleSubscription(Subscription):
    """Live articles only (a scope the saved row decides), which clients may filter further."""

    class Meta:
        serializer_class = FilteredArticleSerializer
        stream = "live-articles"
        queryset = Article.objects.filter(status="live")
        filter_fields = {"author": ["exact"], "title": ["icontains"]}


class PublicArticleSubscription(Subscription):
    """Live articles for anonymous users, every article for the others (a per-recipient rule), filtered."""

    class Meta:
        serializer_class = FilteredArticleSerializer
        stream = "public-articles"
        filter_fields = {"author": ["exact"], "title": ["icontains"]}

    @classmethod
    def get_queryset(cls, user):
        return cls.scope() if user.is_authenticated else cls.scope().filter(status="live")


class ArticleFilter(django_filters.FilterSet):
    """A project's FilterSet, as its queries use it: a declared filter, and one that excludes."""

    title = django_filters.CharFilter(lookup_expr="icontains")
    not_status = django_filters.CharFilter(field_name="status", exclude=True)

    class Meta:
        model = Article
        fields = {"author": ["exact"]}


class FilterSetArticleSubscription(Subscription):
    class Meta:
        serializer_class = ArticleSerializer
        stream = "filterset-articles"
        filterset_class = ArticleFilter


class QueriedArticleSubscription(Subscription):
    """Articles filtered on what only a query can judge: the author's name, a regular expression, text in
    the collation's order, a column across a relation."""

    class Meta:
        serializer_class = FilteredArticleSerializer
        stream = "queried-articles"
        filter_fields = {
            "author__username": ["exact", "icontains"],
            "author__is_staff": ["exact"],
            "title": ["regex", "gt"],
            "status": ["exact"],
        }


class DatedArticleFilter(django_filters.FilterSet):
    """A project's FilterSet with a method of its own and a filter across a relation, as queries have."""

    written_by = django_filters.CharFilter(field_name="author__username")
    dated = django_filters.BooleanFilter(method="filter_dated")

    class Meta:
        model = Article
        fields = {"author": ["exact"]}

    def filter_dated(self, queryset, name, value):
        return queryset.filter(published_on__isnull=not value)


class DatedArticleSubscription(Subscription):
    class Meta:
        serializer_class = FilteredArticleSerializer
        stream = "dated-articles"
        filterset_class = DatedArticleFilter


class FilteredGroupSubscription(Subscription):
    """Groups a client filters by name: the example's mutations change them over either protocol."""

    class Meta:
        serializer_class = GroupSerializer
        stream = "filtered-groups"
        filter_fields = {"name": ["exact", "startswith"]}


class FilteredTeamSubscription(Subscription):
    """The groups a user belongs to (a per-recipient rule), filtered by name."""

    class Meta:
        serializer_class = GroupSerializer
        stream = "filtered-teams"
        permission_classes = [IsAuthenticated]
        filter_fields = {"name": ["startswith"]}

    @classmethod
    def get_queryset(cls, user):
        return cls.scope().filter(user=user)


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Review
        fields = ("id", "title", "reviewer")


class ReviewSubscription(Subscription):
    """Reviews, whose reviewer Django sets to null when the user goes (``SET_NULL``)."""

    class Meta:
        serializer_class = ReviewSerializer
        stream = "reviews"


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ("id", "text", "notebook")


class NoteSubscription(Subscription):
    """Notes, which go with their notebook (the database's own cascade on Django 6.1)."""

    class Meta:
        serializer_class = NoteSerializer
        stream = "notes"


class BookmarkSerializer(serializers.ModelSerializer):
    class Meta:
        model = Bookmark
        fields = ("id", "page", "notebook")


class BookmarkSubscription(Subscription):
    """Bookmarks, whose notebook becomes null when it goes (the database's own on Django 6.1)."""

    class Meta:
        serializer_class = BookmarkSerializer
        stream = "bookmarks"


class MarkerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Marker
        fields = ("id", "label")


class MarkerSubscription(Subscription):
    """What ``client.assert_nothing_more`` follows: a stream no test changes otherwise."""

    class Meta:
        serializer_class = MarkerSerializer
        stream = "markers"
