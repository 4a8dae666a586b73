"""``Subscription.ChangesField()``: a stream's changes as a typed field of the standard protocol.

Each event is an object with ``stream``, ``action``, ``model``, ``data``,
``cursor`` and ``replayed``; ``data`` is typed from the stream's serializer (as graphene-django
converts DRF fields), so a client's selection set under ``data`` is its field
selection. ``after: cursor`` resumes a subscription (see ``change_log``).
Type names come from the Subscription's own (unique in a schema):
``UserSubscriptionEvent`` and ``UserSubscriptionData`` for ``UserSubscription``.
The field is served by a ``GraphqlWsConsumer``; executed any other way (over
HTTP, say) it answers with an error that says so.
"""

import graphene
from graphene_django.rest_framework.serializer_converter import convert_serializer_field
from graphql import GraphQLError
from rest_framework import serializers

from . import filters
from .change_log import RESYNC, ChangeEvent
from .protocols.common import CREATE, DELETE, UPDATE

__all__ = [
    "ChangeActionEnum",
    "ChangeCauseEnum",
    "ChangeEvent",
    "changes_field",
    "event_from_frame",
    "subscription_of",
]


class ChangeActionEnum(graphene.Enum):
    """What happened to the object."""

    CREATE = CREATE
    UPDATE = UPDATE
    DELETE = DELETE
    #: History is gone: refetch what you show, then carry on from this event's cursor.
    RESYNC = RESYNC


class ChangeCauseEnum(graphene.Enum):
    """Why a subscription hears of the object: what happened to it, or how it moved relative to the filter."""

    #: The object was created.
    CREATED = filters.CREATED
    #: The object was changed.
    UPDATED = filters.UPDATED
    #: The object was deleted.
    DELETED = filters.DELETED
    #: A change made the object match the subscription's filter (it arrives as CREATE).
    ENTERED = filters.ENTERED
    #: A change made the object stop matching the subscription's filter (it leaves as DELETE).
    LEFT = filters.LEFT


#: The cause of an action that no filter changed.
_PLAIN_CAUSES = {CREATE: filters.CREATED, UPDATE: filters.UPDATED, DELETE: filters.DELETED}


def event_from_frame(frame):
    """The event a notification frame carries (every field, the change's ``cursor`` and log ``position``)."""
    payload = frame["payload"]
    return ChangeEvent(
        stream=frame["stream"],
        action=payload["action"],
        model=payload["model"],
        data=payload["data"],
        cursor=frame.get("cursor"),
        position=frame.get("position"),
        cause=payload.get("cause"),
        count=payload.get("count"),
    )


def changes_field(subscription, action_enum, **kwargs):
    """The standard subscription field of ``subscription`` (see ``Subscription.ChangesField``)."""
    meta = subscription._meta
    if subscription not in _event_types:  # one type per stream, however often the field is mounted
        _event_types[subscription] = _event_type(subscription)
    field_name = kwargs.pop("name", None)

    def resolve(root, info, **arguments):
        if isinstance(root, ChangeEvent):
            return root
        raise GraphQLError(
            f"{info.field_name} is a subscription of the graphql-transport-ws protocol: subscribe to it over "
            "a GraphqlWsConsumer socket (with the graphql-ws, Apollo or urql client). Over HTTP, use the "
            "stream's 2018 subscription field with your socket's channelId."
        )

    resolve.subscription = subscription
    kwargs.setdefault("description", f"{meta.model.__name__} changes, as they are committed.")
    arguments = {
        "action": graphene.Argument(
            action_enum,
            default_value=action_enum.ALL_ACTIONS.value,
            description="Which changes to follow (default: every kind).",
        ),
        "id": graphene.Argument(graphene.ID, description="Follow this object only (default: every object)."),
        "after": graphene.Argument(
            graphene.String,
            description=(
                "Resume after this cursor (an event's, or the stream's cursor query's): first the changes "
                "missed since, in commit order, or one RESYNC event when they cannot be sent; then live ones."
            ),
        ),
    }
    arguments = filters.with_arguments(subscription, arguments)
    return graphene.Field(
        _event_types[subscription], args=arguments, resolver=resolve, name=field_name, **kwargs
    )


_event_types = {}


def subscription_of(field):
    """The Subscription whose changes a schema's ``GraphQLField`` delivers, or None for any other field."""
    return getattr(field.resolve, "subscription", None)


def _event_type(subscription):
    meta = subscription._meta
    name = subscription._meta.name
    data = _data_type(f"{name}Data", meta.serializer_class(), f"{meta.model.__name__} fields, as notified.")
    return type(
        f"{name}Event",
        (graphene.ObjectType,),
        {
            "__doc__": f"A committed change of a {meta.model.__name__}, on stream {meta.stream!r}.",
            "stream": graphene.String(required=True, description="The stream the change is on."),
            "action": graphene.Field(ChangeActionEnum, required=True, description="What happened."),
            "cause": graphene.Field(
                ChangeCauseEnum,
                resolver=_cause,
                description=(
                    "Why it is sent: the object was created, updated or deleted, or it entered or left the "
                    "subscription's filter (null in a RESYNC event)."
                ),
            ),
            "model": graphene.String(required=True, description="The model, as app_label.model_name."),
            "data": graphene.Field(
                data, description="The object, as the serializer shows it (null in a RESYNC event)."
            ),
            "count": graphene.Int(
                description=(
                    "In a RESYNC a bulk write sent (QuerySet.update(), bulk_create(), bulk_update() of more "
                    "rows than BULK_WRITE_MAX_CHANGES): how many rows it wrote; null otherwise, and on a "
                    "stream with a queryset or a per-recipient rule."
                ),
            ),
            "cursor": graphene.String(
                required=True,
                description="The change's place in the stream: pass it as ``after`` to resume after it.",
            ),
            "replayed": graphene.Boolean(
                required=True,
                resolver=_replayed,
                description=(
                    "Whether it was sent from the change log as the subscription resumed after a cursor (a "
                    "change missed, or the RESYNC that stands for them) rather than live."
                ),
            ),
        },
    )


def _cause(event, info):
    return event.get("cause") or _PLAIN_CAUSES.get(event["action"])


def _replayed(event, info):
    return bool(event.get("replayed"))


def _data_type(name, serializer, description):
    """An object type with one field per serializer field, resolved from the serializer's output."""
    attributes = {"__doc__": description}
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    for field_name, field in serializer.fields.items():
        attributes[field_name] = _output_field(f"{name}{_pascal(field_name)}", field, model)
    return type(name, (graphene.ObjectType,), attributes)


def _pascal(name):
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


#: DRF fields whose output is text that graphene's date and time scalars would refuse: read back.
_TEMPORAL = (serializers.DateTimeField, serializers.DateField, serializers.TimeField)


def _output_field(type_name, field, model):
    description = field.help_text
    if isinstance(field, serializers.ManyRelatedField) and _integer_key(
        field.child_relation, model, field.source
    ):
        return graphene.List(graphene.Int, description=description)
    if _integer_key(field, model):
        return graphene.Int(description=description)
    if isinstance(field, serializers.ListSerializer):
        child = _data_type(type_name, field.child, description)
        return graphene.List(child, description=description)
    if isinstance(field, serializers.BaseSerializer):
        return graphene.Field(_data_type(type_name, field, description), description=description)
    if isinstance(field, serializers.MultipleChoiceField):
        return graphene.List(graphene.String, description=description)
    converted = convert_serializer_field(field, is_input=False, convert_choices_to_enum=False)
    if isinstance(field, _TEMPORAL):
        converted.kwargs["resolver"] = _temporal_resolver(field)
    return converted


def _integer_key(field, model, source=None):
    """Whether ``field`` shows a related object by an integer primary key (DRF writes it as a number).

    graphene-django would type it as a String: the same key would be 1 in a 2018
    frame and "1" in an event.
    """
    if not isinstance(field, serializers.PrimaryKeyRelatedField) or field.pk_field is not None:
        return False
    queryset = getattr(field, "queryset", None)
    related = queryset.model if queryset is not None else _related_model(model, source or field.source)
    if related is None:
        return False
    key = related._meta.pk
    while key.is_relation:  # a child table's key is its parent's
        key = key.target_field
    return key.get_internal_type().endswith(("IntegerField", "AutoField"))


def _related_model(model, source):
    try:
        return model._meta.get_field(source).related_model
    except Exception:  # a source that is no model field (a property, a dotted path)
        return None


def _temporal_resolver(field):
    def resolve(root, info):
        value = root.get(field.field_name)
        # DRF wrote it in its own format; its own parser reads it back for graphene's scalar.
        return None if value is None else field.to_internal_value(value)

    return resolve
