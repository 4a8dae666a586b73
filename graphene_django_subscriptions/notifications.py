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

import contextlib
import contextvars
import functools
import json
import logging
import threading

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.models import Exists, OuterRef
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from . import (
    app_settings,
    change_log,
    chunks,
    database_writes,
    filters,
    groups,
    recipients,
    registry,
    transport,
)
from .fields import SELECTED_BY_OPERATION
from .models import FilterRoute, SubscriptionRecord
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
    update replaces is read, locked, in the same transaction (see ``_saving``);
    so does one whose table has triggers (``database_writes``), which stay
    silent on the save's rows. Where no change log orders changes, saves of
    one row outside any transaction take turns in the process (see
    ``_one_at_a_time``).
    """

    @functools.wraps(save_base)
    def save_base_in_a_transaction(self, *args, **kwargs):
        model = type(self)
        using = kwargs.get("using") or router.db_for_write(model, instance=self)
        tables = database_writes.tables_of(model)
        triggered = not database_writes.installed(using).isdisjoint(tables)
        with _one_at_a_time(self, using):
            if not triggered and not change_log.enabled() and not _reads_before(model):
                return save_base(self, *args, **kwargs)  # nothing to commit with the row
            # Its table's triggers (if any) stay silent: the save is reported here, once.
            with transaction.atomic(using=using, savepoint=False), database_writes.by_the_orm(tables, using):
                return save_base(self, *args, **kwargs)

    save_base_in_a_transaction.in_a_transaction = True
    return save_base_in_a_transaction


#: Locks by which saves of one row outside any transaction take turns (a row's is one of them, by hash).
_ROW_TURNS = [threading.Lock() for _ in range(64)]
#: Whether this thread holds one of them (a save inside another's signal handler takes none).
_taking_turns = contextvars.ContextVar("gds_taking_turns", default=False)


@contextlib.contextmanager
def _one_at_a_time(instance, using):
    """Make saves of ``instance``'s row outside any transaction take turns in this process, from the write
    to handing the change to the outbox, where no change log orders them (Channels 1, or ``CHANGE_LOG``
    off).

    Each commits on its own; between one's commit and its hand-off, another
    save of the row could commit and be handed over first, and the last
    notification would carry an older row than the one stored. Other rows
    (and saves in a transaction, which hand over at its commit) are not held.
    A thread holds one such lock at most: no two can wait for each other.
    """
    if (
        change_log.enabled()
        or instance.pk is None
        or _taking_turns.get()
        or connections[using].in_atomic_block
    ):
        yield
        return
    with _ROW_TURNS[hash((instance._meta.label, str(instance.pk))) % len(_ROW_TURNS)]:
        token = _taking_turns.set(True)
        try:
            yield
        finally:
            _taking_turns.reset(token)


def _saving(sender, instance, raw=False, using=None, **kwargs):
    """Read the row a save is about to replace, whether each ``Meta.queryset`` scope holds it, and which
    subscribed recipients each per-recipient rule shows it to.

    Where a stream judges a change on the state before it too: filters,
    scopes and per-recipient rules (an object that leaves one is heard of as
    leaving). In the saving transaction (see ``_in_a_transaction``), locked
    until it commits: the state read is the one the save replaces.
    """
    if raw or instance.pk is None or not _reads_before(sender):
        return
    try:
        with transaction.atomic(using=using):
            take_write_lock(using)  # the save writes next: write first (see there)
            rows = sender._base_manager.using(using).select_for_update().filter(pk=instance.pk)
            subscriptions = registry.for_model(sender)
            instance.__dict__[_PREVIOUS] = before_update(subscriptions, rows.first(), using)
    except Exception:
        logger.exception(
            "Could not read %s pk=%r before its save; its update is judged on the new state alone.",
            sender.__name__,
            instance.pk,
        )


def before_update(subscriptions, previous, using, followed=None, held=None):
    """The ``Before`` of an update of object ``previous`` (as stored, locked; None: not there), for
    ``judge``: what ``subscriptions``' scopes, per-recipient rules and filters that take a query say of it.

    ``followed`` is ``followed_streams(subscriptions)`` and ``held`` is
    ``scopes_holding`` of the rows, when the caller has them (a bulk write
    asks once for all its rows).
    """
    before = Before(previous, {}, {}, {})
    if previous is None:
        return before
    if followed is None:
        followed = followed_streams(subscriptions)
    for subscription in subscriptions:
        meta = subscription._meta
        if _scoped(meta):  # asked whoever follows: the log keeps it for replays
            if held is not None and meta.stream in held:
                before.held[meta.stream] = previous.pk in held[meta.stream]
            else:
                before.held[meta.stream] = subscription.scope().using(using).filter(pk=previous.pk).exists()
        if meta.stream not in followed:
            continue
        if meta.per_recipient:
            allowed, asked, _ = _verdict(subscription, common.UPDATE, previous.pk, using)
            before.shown_to[meta.stream] = {audience: audience in allowed for audience in asked}
        if meta.filters is not None and meta.filters.queries:
            before.queried[meta.stream] = _queried(meta, previous, using)
    return before


def _reads_before(model):
    """Whether a save of ``model`` reads the row it replaces (see ``_saving``)."""
    return any(
        meta.filters is not None or meta.queryset is not None or meta.per_recipient
        for meta in (subscription._meta for subscription in registry.for_model(model))
    )


def _scoped(meta):
    """Whether a stream's ``Meta.queryset`` decides, for everybody, which changes it reports."""
    return meta.queryset is not None and not meta.per_recipient


def scopes_holding(subscriptions, pks, using):
    """``{stream: set of keys}``: which of the objects ``pks`` each ``Meta.queryset`` scope of
    ``subscriptions`` holds now (one query per scope and 500 keys; a scope that fails is left out, for
    each object's judgement to ask, and report, on its own)."""
    held = {}
    for subscription in subscriptions:
        meta = subscription._meta
        if not _scoped(meta):
            continue
        try:
            with transaction.atomic(using=using):
                found = set()
                for chunk in chunks.of(pks):
                    rows = subscription.scope().using(using).filter(pk__in=chunk)
                    found.update(rows.values_list("pk", flat=True))
            held[meta.stream] = found
        except Exception:
            logger.exception("Could not ask the scope of stream %r about a bulk write's rows.", meta.stream)
    return held


class Batch:
    """What the judgements of a bulk write's rows share (see ``judge``): the streams some socket follows
    (``followed``), what each scope holds now (``held``, see ``scopes_holding``), and the change log
    entries they make, written at once by ``write``; ``for_object``: whether the changes are for their
    objects' own subscribers only (``Change.for_object``)."""

    def __init__(self, followed, held, for_object=False):
        self.followed = followed
        self.held = held
        self.for_object = for_object
        self.entries = []
        self.changes = []

    def write(self, using):
        """Write the log entries, in the rows' order; if that fails, the changes are sent unlogged."""
        if not self.entries:
            return
        try:
            with transaction.atomic(using=using):
                change_log.write(self.entries, using)
        except Exception:
            logger.exception("Could not log a bulk write's changes; they are notified, but not resumable.")
            for change in self.changes:
                change.logged = set()


class Before:
    """What ``_saving`` read before an update, for ``judge``: the row it replaces (``previous``, None when
    not read), and, by stream, whether each ``Meta.queryset`` scope held it (``held``), which subscribed
    audiences each per-recipient rule showed it to (``shown_to``: ``{audience: bool}``) and which filters
    that take a query it matched (``queried``: ``{filter key: bool}``)."""

    def __init__(self, previous, held, shown_to, queried):
        self.previous = previous
        self.held = held
        self.shown_to = shown_to
        self.queried = queried


def followed_streams(subscriptions):
    """The streams of ``subscriptions`` whose answers depend on who follows them (a per-recipient rule,
    filters that take a query) and that some socket follows now: one query, and none without such streams.

    The others cost a change nothing more: nobody is to be asked about.
    """
    streams = [
        subscription._meta.stream
        for subscription in subscriptions
        if subscription._meta.per_recipient
        or (subscription._meta.filters is not None and subscription._meta.filters.queries)
    ]
    if not streams:
        return set()
    records = SubscriptionRecord.objects.filter(stream__in=streams)
    return set(records.values_list("stream", flat=True).distinct())


def _queried(meta, state, using):
    """``{filter key: bool}``: whether the object, as stored now, matches each filter of ``meta``'s
    stream that takes a query, among those its state ``state`` may concern (found by their routes).

    One query for every such filter (in batches): each one's FilterSet, as an ``EXISTS``.
    """
    routes = filters.routes(meta.filters, (state,))
    chosen = {}
    for filter_key, text in _routed(meta, routes, ("filter_key", "filter"), filter_queried=True):
        if filter_key not in chosen:
            one = _stored_filter(meta, text)
            if one is not None:
                chosen[filter_key] = one
    found = {}
    keys = list(chosen)
    for start in range(0, len(keys), _QUERIED_BATCH):
        batch = {key: chosen[key] for key in keys[start : start + _QUERIED_BATCH]}
        try:
            with transaction.atomic(using=using):
                found.update(_matched(meta, batch, state.pk, using))
        except Exception:
            # One filter the database refuses (a pattern its regular expressions do not read) must
            # not cost the others their changes: ask each alone; one that fails is left unjudged.
            for key, one in batch.items():
                try:
                    with transaction.atomic(using=using):
                        found.update(_matched(meta, {key: one}, state.pk, using))
                except Exception:
                    logger.exception("Could not judge a filter of stream %r (%s).", meta.stream, one.text)
    return found


def _matched(meta, batch, pk, using):
    """``{filter key: bool}``: whether object ``pk`` matches each filter of ``batch``, in one query."""
    rows = meta.model._base_manager.using(using)
    exists = {
        f"m{number}": Exists(meta.filters.query(one, rows).filter(pk=OuterRef("pk")))
        for number, one in enumerate(batch.values())
    }
    matched = rows.filter(pk=pk).annotate(**exists).values_list(*exists).first()
    return {key: bool(one) for key, one in zip(batch, matched or [False] * len(batch))}


#: How many filters that take a query one statement judges at most.
_QUERIED_BATCH = 50


def _stored_filter(meta, text):
    try:
        return meta.filters.stored(text)
    except Exception:
        logger.exception(
            "Could not read a filter of stream %r (%s); its subscribers miss changes.", meta.stream, text
        )
        return None


def _saved(sender, instance, created, raw=False, using=None, **kwargs):
    before = instance.__dict__.pop(_PREVIOUS, None)
    if raw:  # loaddata: fixtures are not changes anybody asked to hear of
        return
    if created:
        change = judge(sender, instance.pk, common.CREATE, using)
    else:
        change = judge(sender, instance.pk, common.UPDATE, using, before)
    if change is not None:
        transaction.on_commit(lambda: outbox.put(change.deliver), using=using)


def _deleting(sender, instance, using=None, **kwargs):
    # After the delete the row is gone: judge the change while it is still there.
    quiet = (_resyncing.get() or {}).get(sender, ())
    subscriptions = [one for one in registry.for_model(sender) if one._meta.stream not in quiet]
    if not subscriptions:
        return
    take_write_lock(using)
    instance.__dict__[_PENDING_DELETE] = judge(sender, instance.pk, common.DELETE, using, None, subscriptions)


#: ``{model: streams}`` whose rows a bulk delete running now reports as one RESYNC, not row by row.
_resyncing = contextvars.ContextVar("gds_resyncing", default=None)


@contextlib.contextmanager
def resyncing(model, streams):
    """While it lasts, the deletes of ``model``'s rows are not judged for ``streams`` (a bulk delete tells
    their subscribers to resync instead); other streams, and other models' rows, are judged as ever."""
    token = _resyncing.set({**(_resyncing.get() or {}), model: set(streams)})
    try:
        yield
    finally:
        _resyncing.reset(token)


def resyncs_every_stream(model):
    """Whether a bulk delete running now tells every stream of ``model`` to resync (see ``resyncing``):
    then the delete signals of its rows have nothing to report."""
    quiet = (_resyncing.get() or {}).get(model)
    return bool(quiet) and all(one._meta.stream in quiet for one in registry.for_model(model))


def take_write_lock(using):
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


#: The receivers ``watch`` connects to the delete signals.
DELETE_RECEIVERS = (_deleting, _deleted)
#: Where ``_deleting`` leaves the judged change of an instance for ``_deleted``.
_PENDING_DELETE = "_gds_pending_delete"
#: Where ``_saving`` leaves what it read before an update (a ``Before``), for ``_saved``.
_PREVIOUS = "_gds_previous"


def judge(model, pk, action, using=None, before=None, subscriptions=None, stored=None, batch=None):
    """The ``Change`` of object ``pk`` as its transaction sees it now; None when nobody may hear of it.

    Called right after a save, or before a delete, in the transaction that
    makes the change: the row is read back as stored (and locked, so that it
    cannot change until the judgement is done), and each stream decides from
    that same moment whether the change is in its ``Meta.queryset`` and which
    audiences its per-recipient rule lets hear of it. Nothing read later
    changes what is sent or to whom. ``before`` is what ``_saving`` read
    before an update (a ``Before``: the row it replaces, and what scopes,
    rules and filters that take a query said of it). A failure is logged and
    never reaches the code that saved.

    A bulk write (``bulk_writes``) judges each row it wrote: for the
    ``subscriptions`` that report it, on the row as it read it back
    (``stored``, locked), with what its rows share (``batch``, a ``Batch``:
    the log entry joins the batch's, written once for all rows).
    """
    before = before or Before(None, {}, {}, {})
    if subscriptions is None:
        subscriptions = registry.for_model(model)
    if not subscriptions:
        return None
    try:
        # In a savepoint of the saving transaction (or, for a save outside any, a
        # transaction of its own): a query of the project's that fails leaves the
        # saving transaction usable, and every read below sees the same row.
        with transaction.atomic(using=using):
            if change_log.enabled() and batch is None:  # a bulk write took it first
                take_write_lock(using)  # the log is written below: write first (see there)
            if stored is None:
                # As stored, not as the saving code holds it: a key given as "2" is read back as 2.
                stored = model._base_manager.using(using).select_for_update().filter(pk=pk).first()
            if stored is None:
                return None  # deleted meanwhile, outside this transaction: its delete is judged on its own
            followed = followed_streams(subscriptions) if batch is None else batch.followed
            held = None if batch is None else batch.held
            verdicts, judged, users = _verdicts(subscriptions, action, pk, using, followed, held)
            scopes = _scope_moves(subscriptions, action, verdicts, before.held)
            moves = _recipient_moves(action, verdicts, judged, users, before.shown_to)
            queried = _queried_moves(subscriptions, action, stored, before, using, followed)
            judgement = Judgement(scopes, moves, queried)
            logged = _log(
                subscriptions, stored, action, verdicts, judged, using, before.previous, judgement, batch
            )
    except Exception:
        logger.exception(
            "Could not judge the %s of %s pk=%r; nobody hears of it.", action, model.__name__, pk
        )
        return None
    if not verdicts and not logged:
        return None
    change = Change(model, stored, action, verdicts, logged, using, before.previous, judgement)
    if batch is not None:
        change.for_object = batch.for_object
        batch.changes.append(change)
    return change


class Judgement:
    """What a change's judgement found beside its verdicts, by stream: whether each ``Meta.queryset``
    scope held the object before and after (``scopes``, see ``_scope_moves``), whether each per-recipient
    rule showed it to each audience (``moves``, see ``_recipient_moves``), and whether it matched each
    filter that takes a query (``queried``: ``{filter key: (before, after)}``, see ``_queried_moves``)."""

    def __init__(self, scopes=None, moves=None, queried=None):
        self.scopes = scopes or {}
        self.moves = moves or {}
        self.queried = queried or {}


def _queried_moves(subscriptions, action, stored, before, using, followed):
    """``{stream: {filter key: (before, after)}}``: whether the object matched each filter that takes a
    query before and after the change (None where it did not exist).

    Asked now, in the change's transaction, of the row as it stands (before a
    delete: as it was), and, for an update, taken from what ``_saving`` asked
    of the row it replaced (an update whose earlier state was not read counts
    as matching before as it does after). A filter asked on one side only
    cannot match on the other: its exact part routes it by that side's value.
    ``followed`` are the streams some socket follows (``followed_streams``).
    """
    found = {}
    for subscription in subscriptions:
        meta = subscription._meta
        if meta.filters is None or not meta.filters.queries:
            continue
        if meta.stream not in followed:
            found[meta.stream] = {}  # no filter to ask
            continue
        try:
            with transaction.atomic(using=using):
                now = _queried(meta, stored, using)
        except Exception:
            logger.exception(
                "Could not judge the filters of stream %r on the %s of %s pk=%r; their subscribers miss it.",
                meta.stream,
                action,
                meta.model.__name__,
                stored.pk,
            )
            continue
        earlier = now if before.previous is None else before.queried.get(meta.stream, {})
        found[meta.stream] = {
            key: filters.sides(action, earlier.get(key, False), now.get(key, False))
            for key in {*earlier, *now}
        }
    return found


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
        moves[meta.stream] = filters.sides(action, held.get(meta.stream, holds), holds)
        if any(moves[meta.stream]):
            verdicts[meta.stream] = True
    return moves


def _recipient_moves(action, verdicts, judged, users, shown_to):
    """``{stream: {audience: (before, after)}}``: whether each per-recipient rule showed the object to
    each audience asked before and after the change (None where it did not exist).

    An audience whose rule showed it the object before or after hears of the
    change (it may have entered or left their view): the stream's verdict
    then holds its user. An audience not asked before the update (it
    subscribed meanwhile, or the earlier state was not read) counts as seeing
    the object as before as after.
    """
    moves = {}
    for stream, asked in judged.items():
        allowed = verdicts.get(stream) or {}
        before = shown_to.get(stream, {})
        pairs = {}
        for audience in asked:
            after = audience in allowed
            pair = filters.sides(action, before.get(audience, after), after)
            if any(pair):
                pairs[audience] = pair
        moves[stream] = pairs
        seen = {audience: users[stream][audience] for audience in pairs if audience in users[stream]}
        if seen:
            verdicts[stream] = seen
    return moves


def _log(subscriptions, instance, action, verdicts, judged, using, previous, judgement, batch=None):
    """Log the change on each stream whose scope holds the object (``change_log``); return those streams.
    (A bulk write's ``batch`` takes the entries, to write them with its other rows'.)

    A stream with a per-recipient rule logs every change in its scope (or that
    leaves the view of an audience), with the audiences its rule was asked for
    and whether it showed them the object before and after: live delivery
    follows them; a replay checks them against the rule as it stands then.
    """
    if not change_log.enabled():
        return ()
    moves = judgement.moves
    streams, audiences = [], {}
    for subscription in subscriptions:
        meta = subscription._meta
        if not meta.per_recipient:
            in_scope = bool(verdicts.get(meta.stream))  # judged above: True when the scope holds it
        else:
            in_scope = (
                meta.queryset is None
                or bool(moves.get(meta.stream))
                or subscription.scope().using(using).filter(pk=instance.pk).exists()
            )
            audiences[meta.stream] = (judged.get(meta.stream, set()), moves.get(meta.stream, {}))
        if in_scope:
            streams.append(meta.stream)
    try:
        entries = change_log.entries(streams, instance, action, audiences, previous, judgement)
        if batch is not None:
            for entry in entries:
                entry.for_object = batch.for_object or None
            batch.entries.extend(entries)
            return streams
        with transaction.atomic(using=using):
            change_log.write(entries, using)
            return streams
    except Exception:
        logger.exception(
            "Could not log the %s of %s pk=%r; it is notified, but a client resuming cannot be sent it.",
            action,
            type(instance).__name__,
            instance.pk,
        )
        return ()


def _verdicts(subscriptions, action, pk, using, followed, held=None):
    """``({stream: verdict}, {stream: audiences asked}, {stream: {audience: user}})``: who may hear of the
    change (see ``_verdict``).

    The audiences asked are those of a stream with a per-recipient rule whose
    subscribers were asked about (the ones recorded now), with their users;
    none on a stream nobody follows (not in ``followed``). ``held``: what
    each scope holds, when a bulk write asked it for all its rows at once.
    """
    verdicts, judged, users = {}, {}, {}
    for subscription in subscriptions:
        meta = subscription._meta
        if not meta.per_recipient and meta.queryset is None:
            verdicts[meta.stream] = True  # every object, everybody: nothing to ask the database
            continue
        if held is not None and meta.stream in held:
            if pk in held[meta.stream]:
                verdicts[meta.stream] = True
            continue
        if meta.per_recipient and meta.stream not in followed:
            judged[meta.stream], users[meta.stream] = set(), {}
            continue
        try:
            with transaction.atomic(using=using):
                verdict, asked, asked_users = _verdict(subscription, action, pk, using)
                if meta.per_recipient:
                    judged[meta.stream], users[meta.stream] = asked, asked_users
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
    return verdicts, judged, users


def _verdict(subscription, action, pk, using):
    """``(verdict, audiences asked, {audience asked: user})``: who on ``subscription``'s stream may hear of
    a change of object ``pk`` as it is now.

    The verdict is True (everybody) or ``{audience: user}``; the audiences
    asked are a set on a stream with a per-recipient rule, else None. An
    update is asked of every audience following the object, whatever action
    it follows: one it enters or leaves hears of a create or a delete.
    """
    meta = subscription._meta
    if not meta.per_recipient:
        return subscription.scope().using(using).filter(pk=pk).exists(), None, None
    actions = common.CHANGE_ACTIONS if action == common.UPDATE else (action,)
    audiences = set(_targets(meta, actions, pk).values_list("audience", flat=True).distinct())
    if meta.filters is not None:  # a filter's subscribers may hear of any change, as it reads to them
        audiences |= set(_filtered_records(meta).values_list("audience", flat=True).distinct())
    users = recipients.users_for(audiences)
    allowed = {
        key: user
        for key, user in users.items()
        if subscription.get_queryset(user).using(using).filter(pk=pk).exists()
    }
    return allowed, audiences, users


def _targets(meta, actions, pk):
    """The records of the groups that hear of ``actions`` changes of object ``pk`` (filters aside)."""
    return SubscriptionRecord.objects.filter(
        stream=meta.stream, action__in=actions, object_key__in=("", groups.object_key(pk)), filter_key=""
    )


def _filtered_records(meta):
    """The records of the groups that follow a filter of ``meta``'s stream."""
    return SubscriptionRecord.objects.filter(stream=meta.stream).exclude(filter_key="")


def _routed(meta, routes, columns, **conditions):
    """The distinct ``columns`` of the filtered records of ``meta``'s stream (meeting ``conditions``) that
    ``routes`` (``filters.routes`` of a change) find: by their one route, or by one of their several."""
    records = _filtered_records(meta).filter(**conditions)
    by_one = records.filter(filter_route__in=routes).values_list(*columns)
    if not meta.filters.lists:
        return by_one.distinct()  # no filter of the stream is found by several values
    listed = FilterRoute.objects.filter(stream=meta.stream, route__in=routes).values("record_id")
    # Two index lookups, not an OR the planner may answer by reading every record of the stream.
    return by_one.union(records.filter(pk__in=listed).values_list(*columns))


class Change:
    """One committed create, update or delete of one object, judged when it was made.

    ``instance`` is the object as stored at that moment; ``verdicts`` maps each
    stream that may hear of it to True (everybody) or ``{audience: user}``
    (who its per-recipient rule let hear of it); ``logged`` holds the streams
    whose change log holds it; ``previous`` is the object as an update found it
    (None when not read: filters then judge the update on its new state alone);
    ``judgement`` what scopes, per-recipient rules and filters that take a
    query said of it before and after (a ``Judgement``). A change ``for_object``
    reaches only the subscribers of that one object: it is a row of a bulk
    write too big to report to the others, who are sent its ``Resync``.
    """

    def __init__(
        self, model, instance, action, verdicts, logged=(), using=None, previous=None, judgement=None
    ):
        self.model = model
        self.instance = instance
        self.previous = previous
        self.judgement = judgement or Judgement()
        self.pk = instance.pk
        self.action = action
        self.verdicts = verdicts
        self.logged = set(logged)
        self.using = using
        self.for_object = False
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
        audiences = change_log.judged_audiences(entry.audiences, entry.action)
        judgement = Judgement(queried={entry.stream: change_log.queried(entry.filtered)})
        if audiences is None:
            verdict = True
        else:
            change_judged, judgement.moves[entry.stream] = audiences
            verdict = recipients.users_for(judgement.moves[entry.stream])
        verdicts = {entry.stream: verdict}
        if entry.scope:
            judgement.scopes[entry.stream] = tuple(json.loads(entry.scope))
        change = cls(meta.model, instance, entry.action, verdicts, {entry.stream}, using, previous, judgement)
        change.positions[entry.stream] = entry.position
        change.for_object = bool(entry.for_object)
        if audiences is not None:
            change.judged[entry.stream] = change_judged
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
        held_by = self._held_by(meta)
        # The actions the change may read as: what happened, or, where the object can enter or
        # leave what a subscriber sees (a scope, a per-recipient rule), a create or a delete.
        moving = meta.per_recipient or meta.stream in self.judgement.scopes
        actions = common.CHANGE_ACTIONS if moving and self.action == common.UPDATE else (self.action,)
        rows = _targets(meta, actions, self.pk)
        if self.for_object:
            rows = rows.exclude(object_key="")  # the stream's other subscribers are told to resync
        rows = rows.values_list("action", "audience", "object_key", "fields_key")
        for action, audience, object_key, fields_key in rows.distinct():
            held = held_by(audience)
            reading = filters.read_plainly(self.action, held)
            if reading is not None and reading[0] == action:
                group = groups.group_name(meta.stream, action, object_key, fields_key, audience)
                shown = filters.shown(reading[1], held)
                targets.setdefault(audience, []).append((group, fields_key, action, reading[1], shown))
        unjudged = []
        if meta.filters is not None and not self.for_object:
            for audience, target in self._filtered_targets(meta, held_by):
                if target[2] is None:
                    unjudged.append(target[0])
                else:
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
        # The same for a filter that takes a query, followed since the change was judged.
        messages.extend((group, self._resync_text(meta)) for group in unjudged)
        return messages

    def _held_by(self, meta):
        """A function of an audience: whether what it sees of ``meta``'s stream held the object before and
        after the change (``filters.read``'s ``held``; None when the stream shows every object).

        On a stream with a per-recipient rule, what its rule showed that
        audience (an audience not judged, subscribed meanwhile, as the
        change happened); else whether its ``Meta.queryset`` held it.
        """
        if not meta.per_recipient:
            held = self.judgement.scopes.get(meta.stream)
            return lambda audience: held
        moves = self.judgement.moves.get(meta.stream, {})
        return lambda audience: moves.get(audience)

    def _shown(self, shown):
        """The object as an event shows it: ``filters.BEFORE`` the change (when read), else after it."""
        if shown == filters.BEFORE and self.previous is not None:
            return self.previous
        return self.instance

    def _filtered_targets(self, meta, held_by):
        """``(audience, (group, fields key, action, cause, state shown))`` of each filtered group that hears
        (``action`` None: a group of graphql-transport-ws operations to tell to resync, whose filter takes
        a query and was not asked as the change was judged).

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
        # Only the filters this change can concern: those with an exact part that its states hold,
        # and those without any (see ``filters.routes``).
        routes = filters.routes(meta.filters, states)
        rows = _routed(meta, routes, ("action", "filter_key", "filter", "audience", "fields_key"))
        queried = self.judgement.queried.get(meta.stream, {})
        readings = {}
        found = []
        for action, filter_key, text, audience, fields_key in rows:
            held = held_by(audience)
            if (filter_key, held) not in readings:
                reading = _reading(meta, text, self.action, states, held, vendor, queried.get(filter_key))
                readings[filter_key, held] = reading
            reading = readings[filter_key, held]
            if reading is UNJUDGED:
                if fields_key == SELECTED_BY_OPERATION and action == self.action:
                    group = groups.group_name(meta.stream, action, "", fields_key, audience, filter_key)
                    found.append((audience, (group, fields_key, None, None, None)))
                continue
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
        return channels_api.encode(_placed(frame, self.positions.get(meta.stream), self.using))


def _placed(frame, position, using):
    """``frame`` with its place in the change log (``position``, None when not logged) and its cursor."""
    frame["position"] = position
    frame["cursor"] = None if position is None else change_log.cursor(position, using)
    return frame


class Resync:
    """A bulk write too big to report row by row (``bulk_writes``): every subscriber of its ``streams``
    is told once to refetch (``RESYNC``), with the ``count`` of rows it wrote.

    The count is left out (null) on a stream with a ``Meta.queryset`` or a
    per-recipient rule: rows it does not show a subscriber are counted too.
    ``objects`` (``{stream: {object key}}``, or None) are the objects that
    one-object subscribers of each stream followed as the write was judged:
    they were sent their object's own change, if it wrote it, and are not
    told to resync; a subscriber of another object (who came since) is.
    """

    def __init__(self, model, streams, count, logged=(), using=None, objects=None):
        self.model = model
        self.streams = list(streams)
        self.count = count
        self.logged = set(logged)
        self.using = using
        self.objects = objects
        #: ``{stream: position}`` in the log, when it comes from there.
        self.positions = {}

    @classmethod
    def from_log(cls, entry, using=None):
        """The resync a logged entry holds (one stream's); None for an unknown stream."""
        subscription = registry.get(entry.stream)
        if subscription is None:
            return None
        state = json.loads(entry.state)
        objects = {entry.stream: set(state["objects"])} if "objects" in state else None
        resync = cls(
            subscription._meta.model, [entry.stream], state.get("count"), {entry.stream}, using, objects
        )
        resync.positions[entry.stream] = entry.position
        return resync

    def deliver(self):
        """As ``Change.deliver``: each socket (or operation) in several of a stream's groups hears it once."""
        if self.logged and transport.delivers_from_log():
            return transport.wake_servers
        messages, _ = self.messages()
        if not messages:
            return False
        transport.send_to_groups(messages, once=True)
        return True

    def messages(self):
        """``([(group, text)], None)``: the text for every live group of its streams."""
        messages = []
        for stream in self.streams:
            subscription = registry.get(stream)
            if subscription is None:
                continue
            meta = subscription._meta
            count = None if meta.queryset is not None or meta.per_recipient else self.count
            rows = SubscriptionRecord.objects.filter(stream=stream)
            rows = rows.values_list("action", "object_key", "fields_key", "audience", "filter_key").distinct()
            told_apart = (self.objects or {}).get(stream, ())
            texts = {}
            for action, object_key, fields_key, audience, filter_key in rows:
                if object_key and object_key in told_apart:
                    continue  # its object's change, if the write made one, was sent to it
                if fields_key not in texts:
                    texts[fields_key] = self._text(meta, fields_key == SELECTED_BY_OPERATION, count)
                group = groups.group_name(stream, action, object_key, fields_key, audience, filter_key)
                messages.append((group, texts[fields_key]))
        return messages, None

    def _text(self, meta, standard, count):
        frame = channels_api.notification_frame(meta.stream, change_log.RESYNC, meta.model_label, None)
        frame["payload"]["count"] = count
        if standard:  # a graphql-transport-ws group: the resync's place in the log, as a change's
            _placed(frame, self.positions.get(meta.stream), self.using)
        return channels_api.encode(frame)


#: A filter that takes a query, not asked as the change was judged (followed since).
UNJUDGED = "unjudged"


def _reading(meta, text, action, states, held, vendor, queried):
    """``(action, cause)`` of a change as the filter stored as ``text`` reads it, None, or ``UNJUDGED``.

    See ``filters.read`` (``held`` None: the stream has no scope; ``queried``:
    what the database said of a filter that takes a query); a filter that
    cannot be judged is logged, and hears nothing.
    """
    try:
        chosen = meta.filters.stored(text)
        reading = filters.read(chosen, action, states, held or (None, None), vendor, queried or (True, True))
        if chosen.queried and queried is None and reading is not None:
            return UNJUDGED  # its parts judged in Python may match: only the database could say
        return reading
    except Exception:
        logger.exception(
            "Could not judge a filter of stream %r (%s); its subscribers miss this change.", meta.stream, text
        )
        return None


def from_log(after, most):
    """``([(entry, texts, once)], more)``: the changes committed after log position ``after`` (at most
    ``most``), in commit order, each with the ``(group, text)`` pairs that carry it to the live groups it
    was judged for (``once``: a socket in several of them hears it once, as a RESYNC); ``more``: whether
    more may be there to read now.

    A change the database logged itself (``database_writes``) may come twice:
    its events, and the RESYNC of the streams that cannot judge it. A run of
    more than ``BULK_WRITE_MAX_CHANGES`` of them (a statement's rows) comes as
    one RESYNC of every stream of its model, at the run's last entry, as a
    bulk write of the ORM does.
    """
    delivered = []
    entries = change_log.committed_after(after, most + 1)  # the one after the last: is it a run's end?
    for index, entry in enumerate(entries[:most]):
        try:
            if entry.stream.startswith(database_writes.PREFIX):
                before = entries[index - 1].stream if index else change_log.stream_at(after)
                run = None
                if before != entry.stream:  # a run starts here: is it too long to report row by row?
                    run = _long_run(entries, index, app_settings.get("BULK_WRITE_MAX_CHANGES"))
                if run is not None:
                    count, last = run
                    delivered.extend(_long_database_run(entry, last, count))
                    return delivered, True  # the next read starts after the run
                # A run of database writes to one table (a statement's rows) resyncs once, at its end.
                following = entries[index + 1].stream if index + 1 < len(entries) else None
                resyncs = following != entry.stream
                found = [(entry, texts, once) for texts, once in _database_write(entry, resyncs)]
            else:
                resync = entry.action == change_log.RESYNC
                change = (Resync if resync else Change).from_log(entry)
                found = [(entry, change.messages()[0] if change is not None else [], resync)]
        except Exception:
            logger.exception("Could not notify logged change %s; the next ones still are.", entry)
            found = []
        delivered.extend(found or [(entry, [], False)])
    return delivered, len(entries) > most


def _long_run(entries, index, most):
    """``(count, last entry)`` of the run of changes of one stream that starts at ``entries[index]``, when it
    holds more than ``most``; else None. Told by the entries read when it ends among them."""
    stream = entries[index].stream
    for end in range(index + 1, len(entries)):
        if entries[end].stream != stream:
            count = end - index
            return (count, entries[end - 1]) if count > most else None
    return change_log.long_run(entries[index], most)  # it goes on past them: ask the log


def _database_streams(model):
    """The streams of ``model`` that hear of the changes its table's triggers log (``Meta.bulk_writes``)."""
    return [one._meta for one in registry.for_model(model) if one._meta.bulk_writes] if model else []


def _long_database_run(first, last, count):
    """``[(entry, texts, once)]`` of a run of ``count`` database writes of one table, from ``first`` to
    ``last``: too many to report row by row. Every subscriber of its model's streams gets one RESYNC at
    its end, but those of one object on a stream that can judge the rows: they get that object's own
    changes in the run (or nothing), unless more than ``BULK_WRITE_MAX_CHANGES`` objects, or rows of
    them, are followed so."""
    model = database_writes.model_of(first.stream)
    streams = _database_streams(model)
    if not streams:
        return [(last, [], True)]
    most = app_settings.get("BULK_WRITE_MAX_CHANGES")
    exact = [meta.stream for meta in streams if not database_writes.unjudgeable(meta)]
    objects = objects_followed(exact, most)
    keys = sorted(set().union(*objects.values())) if objects else []
    rows = change_log.of_objects(first, last, keys, most) if keys else None
    if rows is None:
        if objects is None or keys:
            logger.info("A run of %d database writes of %s: too many followed objects to tell.", count, model)
        objects = None
    delivered = [
        (entry, texts, False) for entry in rows or () for texts, _ in _database_write(entry, True, True)
    ]
    streams = [meta.stream for meta in streams]
    delivered.append((last, _logged_resync(model, streams, count, last.position, objects), True))
    return delivered


def objects_followed(streams, most):
    """``{stream: {object key}}``: the objects the subscribers of one object of ``streams`` follow now; None
    when more than ``most`` distinct objects are (too many to tell apart: they resync with the others)."""
    records = SubscriptionRecord.objects.filter(stream__in=streams).exclude(object_key="")
    keys = list(records.values_list("object_key", flat=True).distinct()[: most + 1])
    if len(keys) > most:
        return None
    objects = {stream: set() for stream in streams}
    if keys:
        for stream, key in records.filter(object_key__in=keys).values_list("stream", "object_key"):
            objects[stream].add(key)
    return objects


def _logged_resync(model, streams, count, position, objects=None):
    """The texts of the RESYNC of ``streams`` logged at ``position`` (``count`` rows, or None: untold);
    ``objects`` as ``Resync`` takes them."""
    resync = Resync(model, streams, count, streams, objects=objects)
    resync.positions = dict.fromkeys(streams, position)
    return resync.messages()[0]


def _database_write(entry, resyncs=True, for_object=False):
    """``[(texts, once)]`` of a change a trigger logged (raw SQL, another program): on the streams of its
    model that hear more than saves (``Meta.bulk_writes``), as a change, judged on the row as it was
    stored and as it was before; on those that cannot judge it (``database_writes.unjudgeable``), a
    RESYNC (unless not ``resyncs``: a later one of the same run tells them). ``for_object``: the change
    only, for its object's own subscribers (see ``Change``)."""
    model = database_writes.model_of(entry.stream)
    streams = _database_streams(model)
    exact = [meta.stream for meta in streams if not database_writes.unjudgeable(meta)]
    resynced = [meta.stream for meta in streams if database_writes.unjudgeable(meta)]
    found = []
    if exact:
        instance = database_writes.instance_from_row(model, entry.state)
        previous = database_writes.instance_from_row(model, entry.previous) if entry.previous else None
        change = Change(model, instance, entry.action, dict.fromkeys(exact, True), exact, None, previous)
        change.positions = dict.fromkeys(exact, entry.position)
        change.for_object = for_object
        found.append((change.messages()[0], False))
    if resynced and resyncs and not for_object:
        found.append((_logged_resync(model, resynced, None, entry.position), True))
    return found
