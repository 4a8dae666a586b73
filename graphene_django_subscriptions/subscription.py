"""``Subscription``: the GraphQL type a project declares once per model stream."""

import re

import graphene
from django.db.models.query import QuerySet
from graphene.types.objecttype import ObjectTypeOptions
from rest_framework.serializers import BaseSerializer

from . import change_log, cross_site, engines, filters, notifications, registry, subscribe_requests
from .bulk_writes import install as install_bulk_writes
from .fields import FieldCatalog
from .protocols.common import (
    ALL_ACTIONS,
    CREATE,
    DELETE,
    SUBSCRIBE,
    UNSUBSCRIBE,
    UPDATE,
    ProtocolError,
    enum_value,
)

STREAM_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class ActionSubscriptionEnum(graphene.Enum):
    """Which changes to follow."""

    CREATE = CREATE
    UPDATE = UPDATE
    DELETE = DELETE
    ALL_ACTIONS = ALL_ACTIONS


class OperationSubscriptionEnum(graphene.Enum):
    """Start or stop following."""

    SUBSCRIBE = SUBSCRIBE
    UNSUBSCRIBE = UNSUBSCRIBE


class SubscriptionOptions(ObjectTypeOptions):
    """The validated ``Meta`` of a Subscription."""

    stream = None
    serializer_class = None
    model = None
    model_label = None
    queryset = None
    permission_classes = ()
    per_recipient = False
    catalog = None
    arguments = None
    #: What clients may filter on (``filters.Declaration``), or None.
    filters = None
    #: Whether the stream hears of the ORM's bulk writes (``bulk_writes``).
    bulk_writes = True


def _fail(cls, message):
    raise TypeError(f"{cls.__name__}.Meta.{message}")


def _validated_serializer(cls, serializer_class):
    if not (isinstance(serializer_class, type) and issubclass(serializer_class, BaseSerializer)):
        _fail(
            cls,
            "serializer_class must be a DRF serializer class, e.g. "
            f"serializer_class = UserSerializer (got {serializer_class!r}).",
        )
    model = getattr(getattr(serializer_class, "Meta", None), "model", None)
    if model is None:
        _fail(
            cls,
            f"serializer_class {serializer_class.__name__} has no Meta.model: use a "
            "ModelSerializer that names the model to follow.",
        )
    return model


def _validated_stream(cls, stream):
    if not isinstance(stream, str) or not STREAM_PATTERN.match(stream):
        _fail(
            cls,
            "stream must be the stream name clients use on the socket: 1 to 40 "
            f"letters, digits, '-', '_' or '.', e.g. stream = 'users' (got {stream!r}).",
        )
    return stream


def _validated_queryset(cls, queryset, model, serializer_class):
    if queryset is None:
        return None
    if not isinstance(queryset, QuerySet):
        _fail(cls, f"queryset must be a QuerySet of {model.__name__} (got {queryset!r}).")
    if queryset.model is not model:
        _fail(
            cls,
            f"queryset is a QuerySet of {queryset.model.__name__}, but serializer_class "
            f"{serializer_class.__name__} serializes {model.__name__}: filter "
            f"{model.__name__}.objects instead.",
        )
    return queryset


def _validated_permissions(cls, permission_classes):
    classes = tuple(permission_classes or ())
    for permission in classes:
        if not (isinstance(permission, type) and hasattr(permission, "has_permission")):
            _fail(
                cls,
                "permission_classes must list classes with a has_permission(user, action, pk) "
                f"method, e.g. [IsAuthenticated] (got {permission!r}).",
            )
    return classes


def _has_recipient_rule(cls):
    """Whether ``cls`` (or a base below Subscription) defines ``get_queryset(user)``."""
    for klass in cls.__mro__:
        if klass is Subscription:
            return False
        if "get_queryset" in klass.__dict__:
            if not isinstance(klass.__dict__["get_queryset"], classmethod):
                raise TypeError(
                    f"{klass.__name__}.get_queryset must be a classmethod: "
                    "@classmethod def get_queryset(cls, user): return cls.scope().filter(...)"
                )
            return True
    return False


def _field_catalog(cls, serializer_class, stream):
    try:
        names = list(serializer_class().fields)
    except Exception as exc:
        _fail(
            cls,
            f"serializer_class {serializer_class.__name__} could not list its fields "
            f"({exc}); declare Subscriptions after Django's app registry is ready.",
        )
    return FieldCatalog(names, stream)


#: The arguments of the subscription fields themselves: no filter may take their names.
RESERVED_ARGUMENTS = ("operation", "action", "channel_id", "channelId", "id", "data", "after")


def _validated_filters(cls, model, filter_fields, filterset_class):
    if filter_fields is not None and filterset_class is not None:
        _fail(
            cls,
            "filter_fields and filterset_class are both set: declare the filters once, either as "
            "filter_fields or in the FilterSet.",
        )
    try:
        return filters.declare(model, filter_fields, filterset_class, RESERVED_ARGUMENTS)
    except filters.DeclarationError as error:
        name = "filterset_class" if filterset_class is not None else "filter_fields"
        message = str(error)
        _fail(
            cls, message if message.startswith(("filter_fields", "filterset_class")) else f"{name}: {message}"
        )


def _arguments(cls, catalog, model):
    fields_enum = graphene.Enum(
        f"{cls.__name__}Fields",
        [(name.upper(), name) for name in catalog.names],
        description=f"{model.__name__} fields to include in notifications.",
    )
    return {
        "operation": graphene.Argument(
            OperationSubscriptionEnum, required=True, description="Subscribe or unsubscribe."
        ),
        "action": graphene.Argument(
            ActionSubscriptionEnum, required=True, description="Which changes to follow."
        ),
        "channel_id": graphene.Argument(
            graphene.String,
            required=True,
            description="The channel_id your socket received when it connected.",
        ),
        "id": graphene.Argument(graphene.ID, description="Follow this object only (default: every object)."),
        "data": graphene.Argument(
            graphene.List(graphene.NonNull(fields_enum)),
            description="Fields to include in this socket's notifications (default: all).",
        ),
    }


class Subscription(graphene.ObjectType):
    """Live notifications of one model's changes, on one stream.

    Subclass it with a ``Meta`` naming ``serializer_class`` (a DRF ModelSerializer)
    and ``stream``; optionally ``description``, ``queryset`` (which objects may be
    followed), ``permission_classes``, and ``filter_fields`` or
    ``filterset_class`` (what clients may filter on, as graphene-django
    declares it), ``bulk_writes`` (False: the stream hears of saves and
    deletes, not of ``QuerySet.update()``, ``bulk_create()`` and
    ``bulk_update()``). Mount it with ``Field()`` and route its
    ``get_binding().consumer`` in a ``GraphqlAPIDemultiplexer``.

    Define the classmethod ``get_queryset(user)`` to decide per recipient
    which objects each user hears of; its serializer then gets that user as
    ``context["user"]``.
    """

    ok = graphene.Boolean(description="Whether the request took effect.")
    error = graphene.String(description="Why the request failed, when it did.")
    stream = graphene.String(description="The stream notifications arrive on.")
    operation = OperationSubscriptionEnum(description="The operation performed.")
    action = ActionSubscriptionEnum(description="The action followed.")

    class Meta:
        abstract = True

    @classmethod
    def __init_subclass_with_meta__(
        cls,
        serializer_class=None,
        stream=None,
        queryset=None,
        permission_classes=None,
        description=None,
        filter_fields=None,
        filterset_class=None,
        bulk_writes=True,
        _meta=None,
        **options,
    ):
        model = _validated_serializer(cls, serializer_class)
        if not _meta:
            _meta = SubscriptionOptions(cls)
        _meta.stream = _validated_stream(cls, stream)
        _meta.serializer_class = serializer_class
        _meta.model = model
        _meta.model_label = f"{model._meta.app_label}.{model._meta.model_name}".lower()
        _meta.queryset = _validated_queryset(cls, queryset, model, serializer_class)
        _meta.permission_classes = _validated_permissions(cls, permission_classes)
        _meta.per_recipient = _has_recipient_rule(cls)
        _meta.catalog = _field_catalog(cls, serializer_class, _meta.stream)
        _meta.arguments = _arguments(cls, _meta.catalog, model)
        _meta.filters = _validated_filters(cls, model, filter_fields, filterset_class)
        if not isinstance(bulk_writes, bool):
            _fail(
                cls,
                "bulk_writes must be True (the stream hears of QuerySet.update(), bulk_create() and "
                "bulk_update(), the default) or False (it hears of saves and deletes only); "
                f"got {bulk_writes!r}.",
            )
        _meta.bulk_writes = bulk_writes
        description = description or f"Subscription to {model.__name__} changes."
        super().__init_subclass_with_meta__(_meta=_meta, description=description, **options)
        registry.register(cls)
        notifications.watch(model)
        install_bulk_writes()

    @classmethod
    def scope(cls):
        """The objects this stream may report: ``Meta.queryset`` or every object."""
        queryset = cls._meta.queryset
        if queryset is None:
            return cls._meta.model._default_manager.all()
        return queryset.all()

    @classmethod
    def get_queryset(cls, user):
        """The objects ``user`` may follow and hear of (an ``AnonymousUser`` when not logged in).

        Override it (as a classmethod) for a per-recipient rule: a subscription
        to every object then delivers each change only to the users whose
        queryset holds the object, checked once per distinct user, and the
        serializer runs once per such user with ``context["user"]``. Without an
        override, every subscriber hears of every object in ``scope()`` and a
        change is serialized once for all of them (``context["user"]`` is None).
        """
        return cls.scope()

    @classmethod
    def Field(cls, **kwargs):
        """The schema field that takes subscribe and unsubscribe requests."""
        kwargs.setdefault("description", f"Subscribe to {cls._meta.model.__name__} changes.")
        arguments = filters.with_arguments(cls, cls._meta.arguments)
        return graphene.Field(cls, args=arguments, resolver=cls.resolve_request, **kwargs)

    @classmethod
    def ChangesField(cls, **kwargs):
        """The standard (graphql-transport-ws) subscription field of this stream's changes.

        Mount it beside ``Field()``; a ``GraphqlWsConsumer`` serves it. It takes
        ``action`` (default ``ALL_ACTIONS``) and ``id`` (default: every object),
        and each event has ``stream``, ``action``, ``model`` and ``data``, a
        typed object of the serializer's fields. Needs the modern engine (Channels 4).
        """
        if engines.channels_major_version() < 4:
            raise TypeError(
                f"{cls.__name__}.ChangesField() is the graphql-transport-ws field, which needs Channels 4 "
                "and graphene 3; on Channels 1, mount Field() (the 2018 channelId protocol) only."
            )
        from .changes import changes_field

        return changes_field(cls, ActionSubscriptionEnum, **kwargs)

    @classmethod
    def CursorField(cls, **kwargs):
        """A query field: the stream's cursor now, to read with the data a client shows.

        A ``ChangesField`` subscription ``after`` it then hears every change
        committed since that query, once: none lost, none twice.
        """
        kwargs.setdefault("description", f"Where {cls._meta.model.__name__} changes stand now, as a cursor.")
        return graphene.Field(graphene.NonNull(graphene.String), resolver=cls.resolve_cursor, **kwargs)

    @classmethod
    def resolve_cursor(cls, root, info):
        """The cursor of the last change committed (of any stream: a cursor is a place in the log)."""
        return change_log.cursor(change_log.last_position())

    @classmethod
    def resolve_request(cls, root, info, **kwargs):
        """Run one subscribe or unsubscribe request made over HTTP."""
        operation = enum_value(kwargs["operation"])
        action = enum_value(kwargs["action"])
        data = kwargs.get("data")
        fields = None if data is None else [enum_value(name) for name in data]
        error = cross_site.refusal(info.context)
        chosen_filter = None
        try:
            chosen_filter = None if cls._meta.filters is None else cls._meta.filters.parse(kwargs)
        except ProtocolError as refused:
            error = error or str(refused)
        error = error or subscribe_requests.run_http_request(
            cls,
            operation=operation,
            action=action,
            channel_id=kwargs.get("channel_id"),
            pk=kwargs.get("id"),
            fields=fields,
            user=getattr(info.context, "user", None),
            chosen_filter=chosen_filter,
        )
        return cls(
            ok=error is None,
            error=error,
            stream=cls._meta.stream,
            operation=operation,
            action=action,
        )

    @classmethod
    def get_binding(cls):
        """The one binding of this stream; its ``consumer`` goes in a demultiplexer."""
        return engines.current().binding_for(cls)
