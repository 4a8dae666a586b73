"""From a saved or deleted model instance to notifications on every matching group.

A change is judged inside the transaction that makes it (``judge``): the
row is read back as stored, and each stream decides then whether the
change is in its ``Meta.queryset`` and which recipients its per-recipient
rule lets hear of it. So the data sent and the decision to send it come
from the same moment, whatever is committed after. Notifications leave once
the transaction commits (never for a rollback), through this process's
outbox, off the saving request's path. Each change is serialized once per
stream (on a stream with a per-recipient rule: once per recipient user
allowed to see it), then cut down to each live field selection; the
database says which selections and groups have members, so nothing is
serialized or sent for nobody. A failure here is logged and never reaches
the code that saved the object.
"""

import functools
import json
import logging

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from . import change_log, filters, groups, recipients, registry, transport
from .fields import SELECTED_BY_OPERATION
from .models import SubscriptionRecord
from .outbox import outbox
from .protocols import channels_api, common

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
    """Connect the change signals of ``model`` (once, however often it is called).

    Its saves also run in a transaction, as Django runs those of a model with
    parents: a save outside any transaction commits with its judgement and its
    change log entry, not before them (see ``_in_a_transaction``).
    """
    uid = f"graphene_django_subscriptions:{model._meta.label_lower}"
    pre_save.connect(_saving, sender=model, weak=False, dispatch_uid=uid)
    post_save.connect(_saved, sender=model, weak=False, dispatch_uid=uid)
    pre_delete.connect(_deleting, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(_deleted, sender=model, weak=False, dispatch_uid=uid)
    if not getattr(model.save_base, "in_a_transaction", False):
        model.save_base = _in_a_transaction(model.save_base)


def _in_a_transaction(save_base):
    """``save_base`` (Django's ``Model.save_base``), run in a transaction when none is open.

    Django sends ``post_save`` after the row is written; outside a transaction
    the row would be committed before the change is logged (a crash between
    would lose the change) and each save of a followed model would commit
    twice. Inside a transaction it is a no-op (``savepoint=False``): a
    rollback there takes the row and its log entry away together. A model
    with filtered or scoped streams saves in one too, log or not: the row an
    update replaces is read, locked, in the same transaction (see ``_saving``).
    """

    @functools.wraps(save_base)
    def save_base_in_a_transaction(self, *args, **kwargs):
        if not change_log.enabled() and not _reads_before(type(self)):
            return save_base(self, *args, **kwargs)  # nothing to commit with the row
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            return save_base(self, *args, **kwargs)

    save_base_in_a_transaction.in_a_transaction = True
    return save_base_in_a_transaction


def _saving(sender, instance, raw=False, using=None, **kwargs):
    """Read the row a save is about to replace, and whether each ``Meta.queryset`` scope holds it.

    Where a stream judges a change on the state before it too: filters, and
    scopes (an object that leaves one is heard of as leaving). In the saving
    transaction (see ``_in_a_transaction``), locked until it commits: the state
    read is the one the save replaces.
    """
    if raw or instance.pk is None or not _reads_before(sender):
        return
    try:
        with transaction.atomic(using=using):
            _take_write_lock(using)  # the save writes next: write first (see there)
            rows = sender._base_manager.using(using).select_for_update().filter(pk=instance.pk)
            previous = rows.first()
            held = {}
            if previous is not None:
                for subscription in registry.for_model(sender):
                    if _scoped(subscription._meta):
                        scope = subscription.scope().using(using)
                        held[subscription._meta.stream] = scope.filter(pk=instance.pk).exists()
            instance.__dict__[_PREVIOUS] = (previous, held)
    except Exception:
        logger.exception(
            "Could not read %s pk=%r before its save; its update is judged on the new state alone.",
            sender.__name__,
            instance.pk,
        )


def _reads_before(model):
    """Whether a save of ``model`` reads the row it replaces (see ``_saving``)."""
    return any(
        subscription._meta.filters is not None or _scoped(subscription._meta)
        for subscription in registry.for_model(model)
    )


def _scoped(meta):
    """Whether a stream's ``Meta.queryset`` decides, for everybody, which changes it reports."""
    return meta.queryset is not None and not meta.per_recipient


def _saved(sender, instance, created, raw=False, using=None, **kwargs):
    previous, held = instance.__dict__.pop(_PREVIOUS, (None, {}))
    if raw:  # loaddata: fixtures are not changes anybody asked to hear of
        return
    if created:
        change = judge(sender, instance.pk, common.CREATE, using)
    else:
        change = judge(sender, instance.pk, common.UPDATE, using, previous=previous, held=held)
    if change is not None:
        transaction.on_commit(lambda: outbox.put(change.deliver), using=using)


def _deleting(sender, instance, using=None, **kwargs):
    # After the delete the row is gone: judge the change while it is still there.
    _take_write_lock(using)
    instance.__dict__[_PENDING_DELETE] = judge(sender, instance.pk, common.DELETE, using)


def _take_write_lock(using):
    """On SQLite, make the judging transaction write before it reads.

    Django sends ``pre_delete`` before its transaction has written anything,
    and a save outside any transaction has committed before ``post_save``; the
    judgement then writes the change log. A SQLite transaction that reads first
    cannot upgrade to writing while another one writes: it fails at once with
    "database is locked", where one that writes first waits for the lock. A
    write that changes no row takes it.
    """
    if connections[using or DEFAULT_DB_ALIAS].vendor != "sqlite":
        return  # other databases lock rows, not the database: the judgement's read locks the row
    if router.db_for_write(SubscriptionRecord) != (using or DEFAULT_DB_ALIAS):
        return
    try:
        SubscriptionRecord.objects.using(using).filter(pk=-1).update(fields_key="")
    except Exception:
        logger.exception("Could not take SQLite's write lock before judging a change")


def _deleted(sender, instance, using=None, **kwargs):
    change = instance.__dict__.pop(_PENDING_DELETE, None)
    if change is not None:
        transaction.on_commit(lambda: outbox.put(change.deliver), using=using)


#: Where ``_deleting`` leaves the judged change of an instance for ``_deleted``.
_PENDING_DELETE = "_gds_pending_delete"
#: Where ``_saving`` leaves the row a save replaces and the scopes that held it, for ``_saved``.
_PREVIOUS = "_gds_previous"


def judge(model, pk, action, using=None, previous=None, held=None):
    """The ``Change`` of object ``pk`` as its transaction sees it now; None when nobody may hear of it.

    Called right after a save, or before a delete, in the transaction that
    makes the change: the row is read back as stored (and locked, so that it
    cannot change until the judgement is done), and each stream decides from
    that same moment whether the change is in its ``Meta.queryset`` and which
    audiences its per-recipient rule lets hear of it. Nothing read later
    changes what is sent or to whom. ``previous`` is the object as stored
    before an update, and ``held`` says which ``Meta.queryset`` scopes held it
    then (read where filters and scopes need them; see ``_saving``). A
    failure is logged and never reaches the code that saved.
    """
    subscriptions = registry.for_model(model)
    if not subscriptions:
        return None
    try:
        # In a savepoint of the saving transaction (or, for a save outside any, a
        # transaction of its own): a query of the project's that fails leaves the
        # saving transaction usable, and every read below sees the same row.
        with transaction.atomic(using=using):
            if change_log.enabled():
                _take_write_lock(using)  # the log is written below: write first (see there)
            # As stored, not as the saving code holds it: a key given as "2" is read back as 2.
            stored = model._base_manager.using(using).select_for_update().filter(pk=pk).first()
            if stored is None:
                return None  # deleted meanwhile, outside this transaction: its delete is judged on its own
            verdicts, judged = _verdicts(subscriptions, action, pk, using)
            scopes = _scope_moves(subscriptions, action, verdicts, held or {})
            logged = _log(subscriptions, stored, action, verdicts, judged, using, previous, scopes)
    except Exception:
        logger.exception(
            "Could not judge the %s of %s pk=%r; nobody hears of it.", action, model.__name__, pk
        )
        return None
    if not verdicts and not logged:
        return None
    return Change(model, stored, action, verdicts, logged, using, previous=previous, scopes=scopes)


def _scope_moves(subscriptions, action, verdicts, held):
    """``{stream: (before, after)}``: whether each ``Meta.queryset`` scope held the object before and after.

    None where the object did not exist (before a create, after a delete); an
    update whose earlier state was not read counts as staying where it is. A
    stream whose scope held the object before or after may hear of the change
    (it entered or left): its verdict becomes True.
    """
    moves = {}
    for subscription in subscriptions:
        meta = subscription._meta
        if not _scoped(meta):
            continue
        holds = bool(verdicts.get(meta.stream))
        if action == common.CREATE:
            moves[meta.stream] = (None, holds)
        elif action == common.DELETE:
            moves[meta.stream] = (holds, None)
        else:
            moves[meta.stream] = (held.get(meta.stream, holds), holds)
        if any(moves[meta.stream]):
            verdicts[meta.stream] = True
    return moves


def _log(subscriptions, instance, action, verdicts, judged, using, previous=None, scopes=None):
    """Log the change on each stream whose scope holds the object (``change_log``); return those streams.

    A stream with a per-recipient rule logs every change in its scope, with the
    audiences its rule was asked for and those it allowed: live delivery
    follows them; a replay asks the rule as it stands then.
    """
    if not change_log.enabled():
        return ()
    streams, audiences = [], {}
    for subscription in subscriptions:
        meta = subscription._meta
        if not meta.per_recipient:
            in_scope = bool(verdicts.get(meta.stream))  # judged above: True when the scope holds it
        else:
            in_scope = (
                meta.queryset is None or subscription.scope().using(using).filter(pk=instance.pk).exists()
            )
            audiences[meta.stream] = (judged.get(meta.stream, set()), set(verdicts.get(meta.stream) or ()))
        if in_scope:
            streams.append(meta.stream)
    try:
        with transaction.atomic(using=using):
            return change_log.record(streams, instance, action, audiences, using, previous, scopes)
    except Exception:
        logger.exception(
            "Could not log the %s of %s pk=%r; it is notified, but a client resuming cannot be sent it.",
            action,
            type(instance).__name__,
            instance.pk,
        )
        return ()


def _verdicts(subscriptions, action, pk, using):
    """``({stream: verdict}, {stream: audiences asked})``: who may hear of the change (see ``_verdict``).

    The audiences asked are those of a stream with a per-recipient rule whose
    subscribers were asked about (the ones recorded now).
    """
    verdicts, judged = {}, {}
    for subscription in subscriptions:
        meta = subscription._meta
        if not meta.per_recipient and meta.queryset is None:
            verdicts[meta.stream] = True  # every object, everybody: nothing to ask the database
            continue
        try:
            with transaction.atomic(using=using):
                verdict, judged[meta.stream] = _verdict(subscription, action, pk, using)
        except Exception:
            logger.exception(
                "Could not decide who may hear of the %s of %s pk=%r on stream %r; it hears nothing of it.",
                action,
                meta.model.__name__,
                pk,
                meta.stream,
            )
            continue
        if verdict:
            verdicts[meta.stream] = verdict
    return verdicts, judged


def _verdict(subscription, action, pk, using):
    """``(verdict, audiences asked)``: who on ``subscription``'s stream may hear of a change.

    The verdict is True (everybody) or ``{audience: user}``; the audiences
    asked are a set on a stream with a per-recipient rule, else None.
    """
    meta = subscription._meta
    if not meta.per_recipient:
        return subscription.scope().using(using).filter(pk=pk).exists(), None
    audiences = set(_targets(meta, action, pk).values_list("audience", flat=True).distinct())
    if meta.filters is not None:  # a filter's subscribers may hear of any change, as it reads to them
        audiences |= set(_filtered_records(meta).values_list("audience", flat=True).distinct())
    allowed = {
        key: user
        for key, user in recipients.users_for(audiences).items()
        if subscription.get_queryset(user).using(using).filter(pk=pk).exists()
    }
    return allowed, audiences


def _targets(meta, action, pk):
    """The records of the groups that hear of ``action`` changes of object ``pk`` (filters aside)."""
    return SubscriptionRecord.objects.filter(
        stream=meta.stream, action=action, object_key__in=("", groups.object_key(pk)), filter_key=""
    )


def _filtered_records(meta):
    """The records of the groups that follow a filter of ``meta``'s stream."""
    return SubscriptionRecord.objects.filter(stream=meta.stream).exclude(filter_key="")


class Change:
    """One committed create, update or delete of one object, judged when it was made.

    ``instance`` is the object as stored at that moment; ``verdicts`` maps each
    stream that may hear of it to True (everybody) or ``{audience: user}``
    (who its per-recipient rule let hear of it); ``logged`` holds the streams
    whose change log holds it; ``previous`` is the object as an update found it
    (None when not read: filters then judge the update on its new state alone);
    ``scopes`` maps each ``Meta.queryset`` stream to whether its scope held the
    object before and after the change (see ``_scope_moves``).
    """

    def __init__(self, model, instance, action, verdicts, logged=(), using=None, previous=None, scopes=None):
        self.model = model
        self.instance = instance
        self.previous = previous
        self.scopes = scopes or {}
        self.pk = instance.pk
        self.action = action
        self.verdicts = verdicts
        self.logged = set(logged)
        self.using = using
        #: ``{stream: position}`` in the log, when the change comes from it.
        self.positions = {}
        #: ``{stream: audiences asked}`` when the change comes from the log: a subscriber of
        #: another audience (it subscribed as the change was being made) is told to resync.
        self.judged = {}

    @classmethod
    def from_log(cls, entry, using=None):
        """The change a logged entry holds (one stream's), as it was judged; None for an unknown stream."""
        subscription = registry.get(entry.stream)
        if subscription is None:
            return None
        meta = subscription._meta
        instance = change_log.instance_from(meta.model, entry.state, using)
        previous = change_log.instance_from(meta.model, entry.previous, using) if entry.previous else None
        audiences = change_log.judged_audiences(entry)
        if audiences is None:
            verdict = True
        else:
            verdict = recipients.users_for(audiences[1])
        verdicts = {entry.stream: verdict}
        scopes = {entry.stream: tuple(json.loads(entry.scope))} if entry.scope else {}
        change = cls(meta.model, instance, entry.action, verdicts, {entry.stream}, using, previous, scopes)
        change.positions[entry.stream] = entry.position
        if audiences is not None:
            change.judged[entry.stream] = audiences[0]
        return change

    def deliver(self):
        """Send this change to every stream that may hear of it; return whether anything was sent.

        Where servers deliver from the change log (the modern engine), they are
        only to be told to read it: that call is returned, for the outbox to make
        once for all the changes it holds. A failing send to the channel layer
        raises, for the outbox to report.
        """
        if self.logged and transport.delivers_from_log():
            return transport.wake_servers  # once for every change the outbox holds now
        messages, first = self.messages()
        if not messages:
            return False
        transport.send_to_groups(messages)
        _warn_once_if_unheard(self, first)
        return True

    def messages(self):
        """``([(group, text)], meta of the first stream with any)``: what carries this change to live groups.

        A stream that fails (its serializer raises, say) is logged and skipped.
        """
        messages, first = [], None
        for subscription in registry.for_model(self.model):
            meta = subscription._meta
            verdict = self.verdicts.get(meta.stream)
            if not verdict and meta.stream not in self.judged:
                continue
            try:
                found = self._messages_for(subscription, verdict)
            except Exception:
                logger.exception(
                    "Could not notify stream %r of %s of %s pk=%r; the change itself is saved.",
                    meta.stream,
                    self.action,
                    self.model.__name__,
                    self.pk,
                )
                continue
            if found and first is None:
                first = meta
            messages.extend(found)
        return messages, first

    def _messages_for(self, subscription, verdict):
        """The ``(group, text)`` pairs that carry this change to ``subscription``'s live groups."""
        meta = subscription._meta
        targets = {}  # audience: [(group, fields key, action, cause, the state its data shows)]
        held = self.scopes.get(meta.stream)
        reading = filters.read_plainly(self.action, held)
        if reading is not None:
            action, cause = reading
            shown = filters.shown(cause, held)
            rows = _targets(meta, action, self.pk).values_list("audience", "object_key", "fields_key")
            for audience, object_key, fields_key in rows.distinct():
                group = groups.group_name(meta.stream, action, object_key, fields_key, audience)
                targets.setdefault(audience, []).append((group, fields_key, action, cause, shown))
        if meta.filters is not None:
            for audience, target in self._filtered_targets(meta):
                targets.setdefault(audience, []).append(target)
        # A stream without a per-recipient rule has one audience, "", and no user:
        # its change is serialized once for everybody.
        allowed = [("", None)] if verdict is True else (verdict or {}).items()
        messages = []
        for audience, user in allowed:
            if audience not in targets:
                continue
            data, texts = {}, {}
            for group, fields_key, action, cause, shown in targets[audience]:
                if shown not in data:
                    data[shown] = meta.serializer_class(self._shown(shown), context={"user": user}).data
                key = (fields_key, action, cause, shown)
                if key not in texts:
                    texts[key] = self._text(meta, data[shown], fields_key, action, cause)
                messages.append((group, texts[key]))
        judged = self.judged.get(meta.stream)
        if judged is not None:
            # Subscribed while the change was being made: whether they may hear of it was not asked
            # then, and is not asked of later rows. Their graphql-transport-ws operations resync.
            for audience in set(targets) - judged:
                for group, fields_key, *_ in targets[audience]:
                    if fields_key == SELECTED_BY_OPERATION:
                        messages.append((group, self._resync_text(meta)))
        return messages

    def _shown(self, shown):
        """The object as an event shows it: ``filters.BEFORE`` the change (when read), else after it."""
        if shown == filters.BEFORE and self.previous is not None:
            return self.previous
        return self.instance

    def _filtered_targets(self, meta):
        """``(audience, (group, fields key, action, cause, state shown))`` of each filtered group that hears.

        Each distinct filter the change can concern is judged once, on the
        object as the change found it and as it left it (and inside the
        stream's scope, if it has one): the action is the change as it reads to
        the filter (an object that starts matching is created for it, see
        ``filters.relative``). A filter with an exact part is found by the value
        (``filters.routes``): however many sockets follow other values, they
        cost this change nothing.
        """
        vendor = connections[self.using or router.db_for_write(self.model)].vendor
        states = self.states()
        held = self.scopes.get(meta.stream)
        # Only the filters this change can concern: those with an exact part that its states hold,
        # and those without any (see ``filters.routes``).
        routes = filters.routes(meta.filters, states)
        rows = _filtered_records(meta).filter(filter_route__in=routes)
        rows = rows.values_list("action", "filter_key", "filter", "audience", "fields_key")
        readings = {}
        found = []
        for action, filter_key, text, audience, fields_key in rows.distinct():
            if filter_key not in readings:
                readings[filter_key] = _reading(meta, text, self.action, states, held, vendor)
            reading = readings[filter_key]
            if reading is not None and reading[0] == action:
                shown = filters.shown(reading[1], held)
                group = groups.group_name(meta.stream, action, "", fields_key, audience, filter_key)
                found.append((audience, (group, fields_key, action, reading[1], shown)))
        return found

    def states(self):
        """``(before, after)``: the object as the change found it and as it left it (None: it did not exist).

        An update whose previous state was not read is judged on its new state alone.
        """
        if self.action == common.CREATE:
            return None, self.instance
        if self.action == common.DELETE:
            return self.instance, None
        return (self.previous if self.previous is not None else self.instance), self.instance

    def _text(self, meta, data, fields_key, action, cause=None):
        if fields_key != SELECTED_BY_OPERATION:
            frame = channels_api.notification_frame(
                meta.stream, action, meta.model_label, meta.catalog.project(data, fields_key), cause
            )
            return channels_api.encode(frame)
        # A graphql-transport-ws group gets every field, and the change's place in the log:
        # its process runs each operation's selection on them.
        return self._logged_text(meta, action, data, cause)

    def _resync_text(self, meta):
        return self._logged_text(meta, change_log.RESYNC, None)

    def _logged_text(self, meta, action, data, cause=None):
        frame = channels_api.notification_frame(meta.stream, action, meta.model_label, data, cause)
        position = self.positions.get(meta.stream)
        frame["position"] = position
        frame["cursor"] = None if position is None else change_log.cursor(position, self.using)
        return channels_api.encode(frame)


def _reading(meta, text, action, states, held, vendor):
    """``(action, cause)`` of a change as the filter stored as ``text`` reads it, or None.

    See ``filters.read`` (``held`` None: the stream has no scope); a filter
    that cannot be judged is logged, and hears nothing.
    """
    try:
        return filters.read(meta.filters.stored(text), action, states, held or (None, None), vendor)
    except Exception:
        logger.exception(
            "Could not judge a filter of stream %r (%s); its subscribers miss this change.", meta.stream, text
        )
        return None


def from_log(after, most):
    """``[(entry, texts)]``: the changes committed after log position ``after`` (at most ``most``), in
    commit order, each with the ``(group, text)`` pairs that carry it to the live groups it was judged for.
    """
    delivered = []
    for entry in change_log.committed_after(after, most):
        texts = []
        try:
            change = Change.from_log(entry)
            if change is not None:
                texts = change.messages()[0]
        except Exception:
            logger.exception("Could not notify logged change %s; the next ones still are.", entry)
        delivered.append((entry, texts))
    return delivered
