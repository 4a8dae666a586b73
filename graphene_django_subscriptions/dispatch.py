"""From a saved or deleted model instance to notifications on every matching group.

The instance is copied when it is saved (``snapshot``), so a notification
carries what was saved even when the code that saved it changes it again.
Notifications leave once the transaction commits (never for a rollback),
through this process's outbox, off the saving request's path. Each
change is serialized once per stream (on a stream with a per-recipient rule:
once per recipient user allowed to see it), then cut down to each live field
selection; the database says which selections and groups have members, so
nothing is serialized or sent for nobody. A failure here is logged and never
reaches the code that saved the object.
"""

import copy
import datetime
import decimal
import logging
import uuid

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete

from . import groups, protocol, recipients, registry, transport
from .fields import ALL_FIELDS, STANDARD
from .models import SubscriptionRecord
from .outbox import outbox

logger = logging.getLogger(__name__)

# Whether a socket has connected to this process, and whether the warning
# about notifications nobody here can hear is still to be decided.
_serves_sockets = False
_unheard_warning_due = True


def socket_connected():
    """Note that this process serves sockets; the engines call it on every connect."""
    global _serves_sockets
    _serves_sockets = True


def _warn_once_if_unheard(change, meta):
    """Log once when this process sends on a layer that cannot reach another process's sockets.

    A save in ``manage.py shell`` on the in-memory layer finds subscribers in
    the database, but their sockets live in the server's process: nothing
    fails, nothing arrives. Say so once, with the fix.
    """
    global _unheard_warning_due
    if _serves_sockets or not _unheard_warning_due:
        return
    _unheard_warning_due = False
    if transport.layer_is_process_local():
        logger.warning(
            "A notification (stream %r, %s of %s pk=%r) reached nobody in this process: no socket has "
            "connected to this process, and the in-memory channel layer only delivers to sockets of the "
            "process that sends. Set CHANNEL_LAYERS to a Redis channel layer (%s) so that saves in other "
            "processes (manage.py shell, workers, cron jobs) reach subscribers. Logged once per process.",
            meta.stream,
            change.action,
            meta.model_label,
            change.pk,
            transport.redis_layer(),
        )


def watch(model):
    """Connect the change signals of ``model`` (once, however often it is called)."""
    uid = f"graphene_django_subscriptions:{model._meta.label_lower}"
    post_save.connect(_saved, sender=model, weak=False, dispatch_uid=uid)
    pre_delete.connect(_deleting, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(_deleted, sender=model, weak=False, dispatch_uid=uid)


def _saved(sender, instance, created, raw=False, using=None, **kwargs):
    if raw:  # loaddata: fixtures are not changes anybody asked to hear of
        return
    action = protocol.CREATE if created else protocol.UPDATE
    _on_commit(Change(sender, snapshot(instance), action), using)


#: Field values that cannot change in place; others (a JSON dict, a list) are copied.
_IMMUTABLE = (
    str, bytes, int, float, bool, type(None), decimal.Decimal, uuid.UUID,
    datetime.date, datetime.time, datetime.timedelta,
)  # fmt: skip


def snapshot(instance):
    """A copy of ``instance`` as it is now, which later edits of ``instance`` do not reach.

    The field values are copied (mutable ones deeply); related objects Django
    has cached are shared, as they were when the instance was saved.
    """
    copied = copy.copy(instance)
    copied._state = copy.copy(instance._state)
    copied._state.fields_cache = dict(instance._state.fields_cache)
    copied.__dict__.pop("_prefetched_objects_cache", None)
    for field in instance._meta.concrete_fields:
        value = copied.__dict__.get(field.attname)
        if not isinstance(value, _IMMUTABLE):
            copied.__dict__[field.attname] = copy.deepcopy(value)
    return copied


def _deleting(sender, instance, using=None, **kwargs):
    # After the delete the row is gone: decide now who may hear of it.
    instance._gds_in_scope = {}
    for subscription in registry.for_model(sender):
        try:
            instance._gds_in_scope[subscription._meta.stream] = _visibility_before_delete(
                subscription, instance.pk
            )
        except Exception:
            logger.exception("Could not check who may hear of a deleted %s", sender.__name__)


def _visibility_before_delete(subscription, pk):
    """Who may hear of the deletion: True/False for a whole stream, or ``{audience: user}`` of who may."""
    meta = subscription._meta
    if meta.per_recipient:
        audiences = _targets(meta, protocol.DELETE, pk).values_list("audience", flat=True).distinct()
        return dict(_allowed(subscription, set(audiences), pk))
    if meta.queryset is None:
        return True
    return subscription.scope().filter(pk=pk).exists()


def _allowed(subscription, audiences, pk):
    """``(audience, user)`` for each of ``audiences`` whose user the rule lets hear of object ``pk``."""
    return [
        (key, user)
        for key, user in recipients.users_for(audiences).items()
        if subscription.get_queryset(user).filter(pk=pk).exists()
    ]


def _targets(meta, action, pk):
    """The records of the groups that hear of ``action`` changes of object ``pk``."""
    return SubscriptionRecord.objects.filter(
        stream=meta.stream, action=action, object_key__in=("", groups.object_key(pk))
    )


def _deleted(sender, instance, using=None, **kwargs):
    # A copy keeps the primary key, which Django clears once the delete is done.
    change = Change(sender, snapshot(instance), protocol.DELETE, getattr(instance, "_gds_in_scope", {}))
    _on_commit(change, using)


def _on_commit(change, using):
    if registry.for_model(change.model):
        transaction.on_commit(lambda: outbox.put(change.deliver), using=using)


class Change:
    """One committed create, update or delete of one object."""

    def __init__(self, model, instance, action, in_scope=None):
        self.model = model
        self.instance = instance
        self.pk = instance.pk
        self.action = action
        self.in_scope = in_scope

    def deliver(self):
        """Send this change to every stream of its model; return whether anything was sent.

        A stream that fails (its serializer raises, say) is logged and skipped;
        a failing send to the channel layer raises, for the outbox to report.
        """
        messages, first = [], None
        for subscription in registry.for_model(self.model):
            try:
                found = self._messages_for(subscription)
            except Exception:
                logger.exception(
                    "Could not notify stream %r of %s of %s pk=%r; the change itself is saved.",
                    subscription._meta.stream,
                    self.action,
                    self.model.__name__,
                    self.pk,
                )
                continue
            if found and first is None:
                first = subscription._meta
            messages.extend(found)
        if not messages:
            return False
        transport.send_to_groups(messages)
        _warn_once_if_unheard(self, first)
        return True

    def _messages_for(self, subscription):
        """The ``(group, text)`` pairs that carry this change to ``subscription``'s live groups."""
        meta = subscription._meta
        targets = {}  # audience: [(object key, fields key)]
        rows = _targets(meta, self.action, self.pk).values_list("audience", "object_key", "fields_key")
        for audience, object_key, fields_key in rows.distinct():
            targets.setdefault(audience, []).append((object_key, fields_key))
        if not targets:
            return []
        messages = []
        for audience, user in self._recipients(subscription, targets):
            data = meta.serializer_class(self.instance, context={"user": user}).data
            texts = {}
            for object_key, fields_key in targets[audience]:
                # A graphql-transport-ws group gets every field, as the 2018 "all" groups do.
                shape = ALL_FIELDS if fields_key == STANDARD else fields_key
                if shape not in texts:
                    frame = protocol.notification_frame(
                        meta.stream, self.action, meta.model_label, meta.catalog.project(data, shape)
                    )
                    texts[shape] = protocol.encode(frame)
                group = groups.group_name(meta.stream, self.action, object_key, fields_key, audience)
                messages.append((group, texts[shape]))
        return messages

    def _recipients(self, subscription, audiences):
        """``(audience, user)`` for each audience that may hear of this change.

        A stream without a per-recipient rule has one audience, "", and no user:
        its change is serialized once for everybody.
        """
        meta = subscription._meta
        if not meta.per_recipient:
            return [("", None)] if self._in_scope(subscription) else []
        if self.action == protocol.DELETE:
            # Decided before the row went (see _deleting), users included.
            allowed = self.in_scope.get(meta.stream, {})
            return [(key, user) for key, user in allowed.items() if key in audiences]
        return _allowed(subscription, audiences, self.pk)

    def _in_scope(self, subscription):
        if self.action == protocol.DELETE:
            return self.in_scope.get(subscription._meta.stream, False)
        if subscription._meta.queryset is None:
            return True
        return subscription.scope().filter(pk=self.pk).exists()
