"""The ORM's bulk writes, heard as saves are: ``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()``.

Django sends no signal for them, so a client following those objects would
keep stale data. Once a Subscription follows a model, these three QuerySet
methods (patched once, for every model: one nobody follows pays one registry
lookup) report each row they write, to the streams whose ``Meta.bulk_writes``
is on (the default): one change per row, judged in the writing transaction as
a save's is, on the row as it stored it (and, for an update, as it found it),
so field selections, scopes, per-recipient rules and filters apply alike.
``QuerySet.delete()`` is patched only for its big deletes: Django sends each
row's delete signals once anybody listens to them, which report it row by row;
a big one tells the streams to resync, and, where nothing else listens, lets
Django delete the rows without loading them (the package's own receivers do
not count then: see ``_besides_ours``).
The rows a delete's ``SET_NULL`` or ``SET_DEFAULT`` changes (Django's
``Collector`` writes them without a save) are reported as updates, the same way.

Rows are read in chunks (a query per chunk, before and after the write, not
per row), locked until the transaction commits. A write of more rows than
``BULK_WRITE_MAX_CHANGES``, or one whose rows cannot be told (a
``bulk_create`` whose keys the database does not give back, or that updates
rows on conflict), is not reported row by row: each subscriber of its streams
gets one ``RESYNC`` (logged, so a resuming subscription gets it too) and
refetches. A subscriber of one object is the exception: the rows of the
objects followed one by one are read and judged as a small write's, and
reach only their objects' subscribers, so they hear their object's own
change (or nothing, if the write left it alone); unless more than
``BULK_WRITE_MAX_CHANGES`` objects are followed so, when they resync too.
"""

import contextvars
import functools
import logging

from django.core.exceptions import ValidationError
from django.db import connections, models, transaction
from django.db.models import Max
from django.db.models.deletion import Collector
from django.db.models.query import QuerySet
from django.db.models.signals import post_delete, pre_delete

from . import app_settings, change_log, chunks, database_writes, groups, notifications, registry
from .outbox import outbox
from .protocols import common

logger = logging.getLogger(__name__)


#: True while a reported bulk write runs: Django's ``bulk_update`` calls ``update`` per batch, and
#: those rows are reported once, by the outer call.
_reporting = contextvars.ContextVar("gds_bulk_write", default=False)
#: The QuerySet methods as Django defines them, by name, once patched.
_original = {}


def install():
    """Patch ``QuerySet.update``, ``bulk_create``, ``bulk_update`` and ``delete``, and ``Collector.delete``
    (once, however often called)."""
    if _original:
        return
    patched = {"update": _update, "bulk_create": _bulk_create, "bulk_update": _bulk_update, "delete": _delete}
    for name, reported in patched.items():
        original = getattr(QuerySet, name)
        _original[name] = original
        setattr(QuerySet, name, functools.wraps(original)(reported(original)))
    _original["collector"] = Collector.delete
    Collector.delete = functools.wraps(Collector.delete)(_collector_delete(Collector.delete))
    for signal in (pre_delete, post_delete):
        signal.has_listeners = _besides_ours(signal, signal.has_listeners)


def _besides_ours(signal, has_listeners):
    """``signal.has_listeners``, not counting the package's own receivers of a model whose every stream a
    big delete running now tells to resync: they would report nothing. Django's collector loads each row
    of a model whose delete signals someone listens to; then, if nobody else does, it need not."""

    @functools.wraps(has_listeners)
    def listening(sender=None):
        if not has_listeners(sender):
            return False
        if sender is None or not notifications.resyncs_every_stream(sender):
            return True
        live = signal._live_receivers(sender)
        if isinstance(live, tuple):  # Django 5 and later: (sync, async)
            live = [*live[0], *live[1]]
        return any(receiver not in notifications.DELETE_RECEIVERS for receiver in live)

    return listening


def reporting(model):
    """The Subscriptions of ``model`` that hear of its bulk writes (``Meta.bulk_writes``)."""
    return [subscription for subscription in registry.for_model(model) if subscription._meta.bulk_writes]


def _rows(model, pks, using):
    """``{pk: row}`` of ``model`` as stored now, read and locked in chunks."""
    found = {}
    for chunk in chunks.of(pks):
        for row in model._base_manager.using(using).select_for_update().filter(pk__in=chunk):
            found[row.pk] = row
    return found


class _Report:
    """The changes of one bulk write: judged row by row as it goes, handed to the outbox at commit."""

    def __init__(self, model, subscriptions, using):
        self.model = model
        self.subscriptions = subscriptions
        self.using = using
        self.changes = []

    @functools.cached_property
    def followed(self):
        """The streams some socket follows (asked once, when rows are judged)."""
        return notifications.followed_streams(self.subscriptions)

    def before(self, pks):
        """``{pk: Before}`` of the rows an update is about to write (those still there, locked now)."""
        if not pks:
            return {}
        previous = _rows(self.model, pks, self.using)
        held = notifications.scopes_holding(self.subscriptions, list(previous), self.using)
        try:
            # In a savepoint: a query of the project's that fails leaves the writing transaction usable.
            with transaction.atomic(using=self.using):
                return {
                    pk: notifications.before_update(self.subscriptions, row, self.using, self.followed, held)
                    for pk, row in previous.items()
                }
        except Exception:
            logger.exception(
                "Could not judge the rows of %s before a bulk write; it is judged on the rows it read.",
                self.model.__name__,
            )
            return {pk: notifications.Before(row, {}, {}, {}) for pk, row in previous.items()}

    def judge(self, action, pks, befores=None, for_object=False):
        """Judge the ``action`` of each row of ``pks`` as stored now, in their order (the scopes asked
        once for all of them, the log written at once); ``for_object``: for the subscribers of each
        row's object alone (see ``followed_objects``)."""
        if not pks:
            return
        stored = _rows(self.model, pks, self.using)
        held = notifications.scopes_holding(self.subscriptions, list(stored), self.using)
        batch = notifications.Batch(self.followed, held, for_object)
        for pk in pks:
            row = stored.get(pk)
            if row is None:
                continue  # gone meanwhile: nothing to report of it
            before = (befores or {}).get(pk)
            notifications.judge(
                self.model, row.pk, action, self.using, before, self.subscriptions, stored=row, batch=batch
            )
        batch.write(self.using)
        self.changes.extend(batch.changes)

    def resync(self, count, objects=None):
        """Tell each subscriber of the streams to refetch: ``count`` rows were written; but not the
        subscribers of the ``objects`` (``followed_objects``), who are sent their objects' changes."""
        streams = [subscription._meta.stream for subscription in self.subscriptions]
        logged = ()
        if change_log.enabled():
            try:
                with transaction.atomic(using=self.using):
                    logged = change_log.record_resync(streams, count, self.using, objects)
            except Exception:
                logger.exception(
                    "Could not log a bulk write of %s; its RESYNC is sent all the same.", streams
                )
        resync = notifications.Resync(self.model, streams, count, logged, self.using, objects)
        self.changes.append(resync)

    def followed_objects(self):
        """``({stream: {object key}}, [pk])``: the objects the streams' subscribers of one object follow
        now, and their keys as the model's; ``(None, [])`` when more than ``BULK_WRITE_MAX_CHANGES``
        objects are (too many to judge one by one: their subscribers resync too)."""
        streams = [subscription._meta.stream for subscription in self.subscriptions]
        objects = notifications.objects_followed(streams, _most())
        if objects is None:
            return None, []
        return objects, _pks(self.model, sorted(set().union(*objects.values())))

    def send_at_commit(self):
        changes = self.changes
        if changes:
            transaction.on_commit(
                lambda: [outbox.put(change.deliver) for change in changes], using=self.using
            )


def _reported_write(write):
    """Run ``write(queryset, report, *args, **kwargs)`` for a followed model, in a transaction, once."""

    def run(original):
        @functools.wraps(original)
        def reported(self, *args, **kwargs):
            subscriptions = reporting(self.model)
            if not subscriptions or _reporting.get():
                return original(self, *args, **kwargs)
            token = _reporting.set(True)
            try:
                with transaction.atomic(using=self.db, savepoint=False):
                    notifications.take_write_lock(self.db)  # it writes: write first (see there)
                    report = _Report(self.model, subscriptions, self.db)
                    with database_writes.by_the_orm(database_writes.tables_of(self.model), self.db):
                        result = write(original, self, report, *args, **kwargs)
                    report.send_at_commit()
                    return result
            finally:
                _reporting.reset(token)

        return reported

    return run


def _most():
    return app_settings.get("BULK_WRITE_MAX_CHANGES")


def _pks(model, keys):
    """The primary key values of ``model`` that the object keys ``keys`` (text) name; none for a key that
    cannot be one."""
    pks = []
    for key in keys:
        try:
            pks.append(model._meta.pk.to_python(key))
        except ValidationError:
            continue
    return pks


def _among(queryset, pks):
    """Those of ``pks`` that ``queryset`` holds now, in its order (a query per chunk)."""
    found = []
    for chunk in chunks.of(pks):
        found.extend(queryset.filter(pk__in=chunk).values_list("pk", flat=True))
    return found


def _named(pks, followed):
    """Those of ``pks`` (as given to a bulk method) that are in ``followed`` (model keys), in order."""
    keys = {groups.object_key(pk) for pk in followed}
    return [pk for pk in pks if groups.object_key(pk) in keys]


@_reported_write
def _update(original, queryset, report, **values):
    if not queryset.query.can_filter():
        return original(queryset, **values)  # Django refuses it: its own error
    pks = list(queryset.values_list("pk", flat=True)[: _most() + 1])
    if len(pks) > _most():
        objects, followed = report.followed_objects()
        if objects is None:
            written = original(queryset, **values)
            report.resync(written)
            return written
        # The followed objects' rows are read, locked and written apart, the others at once.
        pks = _among(queryset, followed)
        befores = report.before(pks)
        pks = [pk for pk in pks if pk in befores]
        rest = queryset.exclude(pk__in=followed) if followed else queryset
        written = original(rest, **values) + _update_rows(original, report, pks, values)
        report.judge(common.UPDATE, pks, befores, for_object=True)
        report.resync(written, objects)
        return written
    befores = report.before(pks)
    pks = [pk for pk in pks if pk in befores]  # those still there, locked now
    written = _update_rows(original, report, pks, values)
    report.judge(common.UPDATE, pks, befores)
    return written


def _update_rows(original, report, pks, values):
    """Update the rows of ``pks`` with ``values`` (a statement per chunk); return how many it wrote."""
    base = report.model._base_manager.using(report.using)
    return sum(original(base.filter(pk__in=chunk), **values) for chunk in chunks.of(pks))


@_reported_write
def _bulk_update(original, queryset, report, objs, fields, *args, **kwargs):
    objs = list(objs)
    pks = list(dict.fromkeys(obj.pk for obj in objs if obj.pk is not None))
    if len(pks) > _most():
        objects, followed = report.followed_objects()
        mine = _named(pks, followed)
        befores = report.before(mine)
        result = original(queryset, objs, fields, *args, **kwargs)
        report.judge(common.UPDATE, [pk for pk in mine if pk in befores], befores, for_object=True)
        report.resync(len(pks), objects)
        return result
    befores = report.before(pks)
    result = original(queryset, objs, fields, *args, **kwargs)
    report.judge(common.UPDATE, pks, befores)
    return result


@_reported_write
def _bulk_create(original, queryset, report, objs, *args, **kwargs):
    objs = list(objs)
    last = _last_key(report.model, report.using)
    created = original(queryset, objs, *args, **kwargs)
    pks = [obj.pk for obj in created]
    if any(pk is None for pk in pks):
        pks = _made_after(report.model, report.using, last)
    if pks is None or kwargs.get("update_conflicts"):
        # Rows it cannot tell (or that it updated, not created): subscribers refetch.
        report.resync(len(objs) if pks is None else len(pks))
    elif len(pks) > _most():
        objects, followed = report.followed_objects()
        report.judge(common.CREATE, _named(pks, followed), for_object=True)
        report.resync(len(pks), objects)
    else:
        report.judge(common.CREATE, pks)
    return created


@_reported_write
def _delete(original, queryset, report):
    if not queryset.query.can_filter():
        return original(queryset)  # Django refuses it: its own error
    if len(queryset.values_list("pk", flat=True)[: _most() + 1]) <= _most():
        return original(queryset)  # each row's delete signals report it, as for a delete of one
    streams = [subscription._meta.stream for subscription in report.subscriptions]
    objects, followed = report.followed_objects()
    with notifications.resyncing(report.model, streams):
        if objects is None:
            deleted, by_model = original(queryset)
        else:
            # The followed objects' rows are judged (as a delete's signal does) and deleted apart.
            pks = _among(queryset, followed)
            report.judge(common.DELETE, pks, for_object=True)
            deleted, by_model = original(queryset.exclude(pk__in=followed) if followed else queryset)
            if pks:
                more, more_by_model = original(
                    report.model._base_manager.using(report.using).filter(pk__in=pks)
                )
                deleted += more
                for label, count in more_by_model.items():
                    by_model[label] = by_model.get(label, 0) + count
    report.resync(by_model.get(report.model._meta.label, 0), objects)
    return deleted, by_model


def _collector_delete(original):
    """``Collector.delete``, with the rows its field updates (``SET_NULL``, ``SET_DEFAULT``) change reported
    as updates of their followed models, judged before and after in the deleting transaction; and the
    rows the database itself deletes or changes (Django 6.1's ``DB_CASCADE``, ``DB_SET_NULL``,
    ``DB_SET_DEFAULT``) reported as deletes (judged before) and updates."""

    @functools.wraps(original)
    def delete(self):
        updated = _set_by(self)
        cascaded, database_updated = _database_cascades(self)
        for model, pks in database_updated.items():
            updated.setdefault(model, []).extend(pk for pk in pks if pk not in updated[model])
        if not updated and not cascaded and not database_writes.installed(self.using):
            return original(self)
        # Django may write them with QuerySet.update(): reported here, once.
        token = _reporting.set(True) if updated else None
        try:
            with transaction.atomic(using=self.using, savepoint=False):
                if updated or cascaded:
                    notifications.take_write_lock(self.using)
                reports = []
                for model, pks in updated.items():
                    report, judged, big, objects = _one_by_one(model, pks, self.using)
                    reports.append((report, len(pks), judged, big, objects, report.before(judged)))
                deletes = []
                for model, pks in cascaded.items():
                    report, judged, big, objects = _one_by_one(model, pks, self.using)
                    # While the rows are there, as a delete's signal does.
                    report.judge(common.DELETE, judged, for_object=big)
                    deletes.append((report, len(pks), big, objects))
                with database_writes.by_the_orm(_tables_written(self), self.using):
                    result = original(self)
                for report, count, big, objects in deletes:
                    if big:
                        report.resync(count, objects)
                    report.send_at_commit()
                for report, count, judged, big, objects, befores in reports:
                    judged = [pk for pk in judged if pk in befores]
                    report.judge(common.UPDATE, judged, befores, for_object=big)
                    if big:
                        report.resync(count, objects)
                    report.send_at_commit()
                return result
        finally:
            if token is not None:
                _reporting.reset(token)

    return delete


def _one_by_one(model, pks, using):
    """``(report, judged, big, objects)`` of a write of the rows ``pks`` of ``model``: the rows to judge one
    by one (all; or, when ``big``, more than ``BULK_WRITE_MAX_CHANGES``, those followed one by one, with the
    ``objects`` of ``_Report.followed_objects``, for its RESYNC)."""
    report = _Report(model, reporting(model), using)
    if len(pks) <= _most():
        return report, pks, False, None
    objects, followed = report.followed_objects()
    return report, _named(pks, followed), True, objects


#: Django 6.1's ``on_delete`` values that the database carries out, by what they do to a row.
_DATABASE_ON_DELETE = {
    getattr(models, name): action
    for name, action in (("DB_CASCADE", "delete"), ("DB_SET_NULL", "update"), ("DB_SET_DEFAULT", "update"))
    if hasattr(models, name)
}


def _database_cascades(collector):
    """``({model: [pk]}, {model: [pk]})``: the rows of followed models the database itself will delete
    and change as ``collector`` deletes its rows (``DB_CASCADE``, ``DB_SET_NULL``, ``DB_SET_DEFAULT``),
    read before it does; but not of tables whose triggers report them (``database_writes``)."""
    if not _DATABASE_ON_DELETE:
        return {}, {}
    using = collector.using
    triggered = database_writes.installed(using)
    found = {"delete": {}, "update": {}}
    going = [(model, [obj.pk for obj in objs]) for model, objs in collector.data.items()]
    going += [(batch.model, batch.values("pk")) for batch in collector.fast_deletes]
    for _ in range(_MOST_CASCADE_DEPTH):
        deeper = []
        for model, rows in going:
            for relation in model._meta.related_objects:
                action = _DATABASE_ON_DELETE.get(getattr(relation, "on_delete", None))
                if action is None:
                    continue
                child, field = relation.related_model, relation.field
                parents = model._base_manager.using(using).filter(pk__in=rows)
                of = parents.values(field.target_field.attname)
                children = child._base_manager.using(using).filter(**{f"{field.attname}__in": of})
                if action == "delete":
                    deeper.append((child, children.values("pk")))
                if reporting(child) and triggered.isdisjoint(database_writes.tables_of(child)):
                    found[action].setdefault(child, {}).update(
                        dict.fromkeys(children.values_list("pk", flat=True))
                    )
        going = deeper
    return tuple(
        {model: list(pks) for model, pks in found[action].items()} for action in ("delete", "update")
    )


#: How many levels of database cascades are followed (a cycle of them ends there).
_MOST_CASCADE_DEPTH = 8


def _tables_written(collector):
    """The tables ``collector`` deletes rows of or updates itself (not those the database cascades to)."""
    written = set(collector.data) | {getattr(batch, "model", None) for batch in collector.fast_deletes}
    written |= {_model_of(objs) for objs in _field_update_batches(collector)}
    return [table for model in written if model is not None for table in database_writes.tables_of(model)]


def _field_update_batches(collector):
    """The rows (a QuerySet, or objects) each of ``collector``'s field updates (``SET_NULL``...) changes.

    Django 4.2 and later keep ``{(field, value): [QuerySet or objects, ...]}``,
    earlier ones ``{model: {(field, value): objects}}``.
    """
    updates = collector.field_updates
    if updates and isinstance(next(iter(updates)), tuple):
        return [batch for batches in updates.values() for batch in batches]
    return [objs for by_field in updates.values() for objs in by_field.values()]


def _model_of(objs):
    if isinstance(objs, QuerySet):
        return objs.model
    objs = list(objs)
    return type(objs[0]) if objs else None


def _set_by(collector):
    """``{model: [pk, ...]}``: the rows of followed models that ``collector``'s field updates will change."""
    found = {}
    for objs in _field_update_batches(collector):
        model = _model_of(objs)
        if model is None or not reporting(model):
            continue
        if isinstance(objs, QuerySet):
            pks = list(objs.values_list("pk", flat=True))
        else:
            pks = [obj.pk for obj in objs]
        if pks:
            found.setdefault(model, [])
            found[model].extend(pk for pk in pks if pk not in found[model])
    return found


def _last_key(model, using):
    """The highest key of ``model`` now, where ``_made_after`` can use it (SQLite), else None."""
    if connections[using].vendor != "sqlite" or not model._meta.pk.get_internal_type().endswith("AutoField"):
        return None
    return model._base_manager.using(using).aggregate(last=Max("pk"))["last"] or 0


def _made_after(model, using, last):
    """The keys of the rows a ``bulk_create`` made, where the database did not give them back.

    On SQLite the writing transaction holds the database's only write lock
    (taken before the insert): the rows with a higher automatic key than before
    it are the ones it made. Elsewhere they cannot be told: None.
    """
    if last is None:
        return None
    return list(
        model._base_manager.using(using).filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)
    )
