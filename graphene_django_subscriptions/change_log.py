"""The change log: every committed change of a followed model, kept in commit order, so clients can resume.

Each change is written to the log (``LoggedChange``) in the transaction that
makes it, once per stream that may report it, with the object's column values
as that change stored them: a rollback logs nothing. The database gives it its
``position`` as the transaction commits, so positions are in commit order
(on PostgreSQL under a lock taken at commit; on SQLite, one transaction writes
at a time). A cursor is a position with the log's epoch (made with the log, so
a cursor of another or a reset database is recognised). ``replay`` gives a
subscription what it missed after a cursor, through its own rules, or tells
it to resync; ``prune`` keeps the log within ``CHANGE_LOG_MAX_CHANGES_PER_STREAM``
and ``CHANGE_LOG_MAX_AGE_SECONDS``.
"""

import base64
import datetime
import decimal
import json
import re
import uuid

from django.db import connections, router, transaction
from django.db.models import Max, Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.duration import duration_iso_string

from . import app_settings, database_writes, engines, filters, groups, recipients
from .models import ChangeLogEpoch, ChangeLogHistory, LoggedChange
from .protocols import channels_api, common
from .recent import Recent

#: The action of an event that says "history is gone: refetch, then carry on from this cursor".
RESYNC = "resync"

_CURSOR = re.compile(r"^([0-9a-f]{1,32})\.([0-9]{1,19})$")


class BadCursor(common.ProtocolError):
    """A cursor this server never gave (malformed)."""


def enabled():
    """Whether changes are logged: ``CHANGE_LOG``, on Channels 4.

    Only the modern engine reads the log (to deliver, and to resume); on
    Channels 1 the saving process sends each change, as it always did, and
    nothing is logged.
    """
    return app_settings.get("CHANGE_LOG") and engines.channels_major_version() >= 4


# -- What a change stored ------------------------------------------------------------------------


def _json_value(value):
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()  # every digit: DjangoJSONEncoder cuts microseconds
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")  # as BinaryField.to_python reads it
    if isinstance(value, FieldFile):
        return value.name
    return str(value)


def state_of(instance):
    """The column values of ``instance`` as JSON text, read back by ``instance_from``."""
    values = {field.attname: field.value_from_object(instance) for field in instance._meta.concrete_fields}
    return json.dumps(values, default=_json_value, separators=(",", ":"))


def instance_from(model, state, using=None):
    """An instance of ``model`` with the column values ``state_of`` wrote (its relations read when used)."""
    values = json.loads(state)
    instance = model(
        **{
            field.attname: field.to_python(values[field.attname])
            for field in model._meta.concrete_fields
            if field.attname in values
        }
    )
    instance._state.adding = False
    instance._state.db = using
    return instance


def entries(streams, instance, action, audiences, previous=None, judgement=None):
    """The log entries (``LoggedChange``, unsaved) of the change of ``instance`` on each of ``streams``,
    for ``write``.

    Written in the transaction that makes the change. ``audiences`` maps each
    stream with a per-recipient rule to the audiences its rule was asked for
    then, and whether it showed the object to each before and after the change
    (``(judged, {audience: (before, after)})``, see
    ``notifications._recipient_moves``); ``previous`` is the
    object as an update found it, when it was read (for filters);
    ``judgement`` (``notifications.Judgement``) says, by stream, whether each
    ``Meta.queryset`` scope held the object before and after, and whether it
    matched each filter that takes a query.
    """
    scopes = judgement.scopes if judgement is not None else {}
    queried_by = judgement.queried if judgement is not None else {}
    state = state_of(instance)
    before = state_of(previous) if previous is not None and action == common.UPDATE else None
    key = groups.object_key(instance.pk)
    return [
        LoggedChange(
            stream=stream,
            action=action,
            object_key=key,
            state=state,
            previous=before,
            scope=json.dumps(scopes[stream]) if stream in scopes else None,
            filtered=json.dumps(queried_by[stream], sort_keys=True) if stream in queried_by else None,
            audiences=_listed(audiences.get(stream), action),
        )
        for stream in streams
    ]


def write(logged, using=None):
    """Write ``logged`` entries (one statement per 500), in their order: the order of their positions."""
    LoggedChange.objects.using(using).bulk_create(logged, batch_size=500)


def record_resync(streams, count, using=None, objects=None):
    """Log, on each of ``streams``, that a bulk write of ``count`` rows was too big to report row by row
    (``bulk_writes``): its subscribers resync, live or when a replay reaches it; but not those of the
    objects ``objects`` names (``{stream: {object key}}``, or None), whose changes are logged on their own.
    Returns ``streams``."""

    def state(stream):
        told_apart = {} if objects is None else {"objects": sorted(objects.get(stream, ()))}
        return json.dumps({"count": count, **told_apart})

    write(
        [
            LoggedChange(stream=stream, action=RESYNC, object_key="", state=state(stream))
            for stream in streams
        ],
        using,
    )
    return streams


def told_apart(state):
    """The object keys a logged RESYNC's ``state`` says were sent their own changes (``record_resync``)."""
    return set(json.loads(state).get("objects", ()))


def _listed(asked, action):
    """The JSON of a per-recipient judgement: the audiences asked, those the rule showed the object to as
    the change left it (before a delete: as it was), and, for an update, those it showed it to before."""
    if asked is None:
        return ""
    judged, moves = asked
    now = 0 if action == common.DELETE else 1
    listed = {"judged": sorted(judged), "allowed": sorted(a for a, pair in moves.items() if pair[now])}
    if action == common.UPDATE:
        listed["before"] = sorted(a for a, pair in moves.items() if pair[0])
    return json.dumps(listed)


def committed_after(position, most, using=None):
    """The logged changes committed after ``position``, in commit order: at most ``most`` ``LoggedChange``."""
    rows = LoggedChange.objects.using(using).filter(position__gt=position).order_by("position")
    return list(rows[:most])


def stream_at(position, using=None):
    """The stream of the change logged at ``position`` (None: none there)."""
    return (
        LoggedChange.objects.using(using).filter(position=position).values_list("stream", flat=True).first()
    )


def long_run(entry, most, using=None):
    """``(count, last entry)`` of the run of changes of ``entry``'s stream that starts with it (the changes
    logged one after the other, with no other stream's between), when it holds more than ``most``; else
    None. For the runs the database's triggers log (a statement's rows)."""
    after = LoggedChange.objects.using(using).filter(position__gte=entry.position).order_by("position")
    leading = list(after.values_list("stream", flat=True)[: most + 1])
    if len(leading) <= most or any(stream != entry.stream for stream in leading):
        return None
    end = after.exclude(stream=entry.stream).values_list("position", flat=True).first()
    run = after.filter(stream=entry.stream) if end is None else after.filter(position__lt=end)
    return run.count(), run.last()


def of_objects(first, last, keys, most, using=None):
    """The changes of ``first``'s stream from ``first`` to ``last`` (a run, see ``long_run``) of the objects
    ``keys`` names, in commit order; None when more than ``most``."""
    rows = LoggedChange.objects.using(using).filter(
        stream=first.stream, position__gte=first.position, position__lte=last.position, object_key__in=keys
    )
    found = list(rows.order_by("position")[: most + 1])
    return None if len(found) > most else found


def queried(text):
    """``{filter key: (before, after)}`` of a logged change's ``filtered`` column (see ``record``)."""
    return {key: tuple(pair) for key, pair in json.loads(text).items()} if text else {}


def judged_audiences(text, action):
    """``(judged, {audience: (before, after)})`` of a logged ``action`` on a per-recipient stream (its
    ``audiences`` column, ``text``), else None.

    As ``record`` was given them; an update logged before the earlier state was
    kept counts as seen before by those who see it after.
    """
    if not text:
        return None
    audiences = json.loads(text)
    allowed = set(audiences["allowed"])
    before = set(audiences.get("before", allowed))
    moves = {
        audience: filters.sides(action, audience in before, audience in allowed)
        for audience in allowed | before
    }
    return set(audiences["judged"]), moves


def last_position(using=None):
    """The position of the last committed change (0 for an empty log)."""
    return LoggedChange.objects.using(using).aggregate(last=Max("position"))["last"] or 0


# -- Cursors -------------------------------------------------------------------------------------

_epochs = {}


def epoch(using=None, fresh=False):
    """The log's epoch (read once per process unless ``fresh``)."""
    alias = using or "default"
    if fresh or alias not in _epochs:
        with transaction.atomic(using=using):
            found = ChangeLogEpoch.objects.using(using).order_by("pk").first()
            if found is None:  # a log whose tables were emptied: a new epoch
                found = ChangeLogEpoch.objects.using(using).create(epoch=uuid.uuid4().hex[:12])
        _epochs[alias] = found.epoch
    return _epochs[alias]


def cursor(position, using=None):
    """The cursor text of ``position`` (opaque to clients)."""
    return f"{epoch(using)}.{position}"


def parse_cursor(text):
    """``(epoch, position)`` of a cursor text; ``BadCursor`` when it is none of ours."""
    match = _CURSOR.match(text) if isinstance(text, str) else None
    if match is None:
        raise BadCursor(
            f"The cursor {app_settings.echo(text)} is not one this server gave: pass the cursor of an event "
            "you received (or of the stream's cursor query), or leave it out."
        )
    return match.group(1), int(match.group(2))


# -- Replay --------------------------------------------------------------------------------------


class ChangeEvent(dict):
    """A change as a graphql-transport-ws event: ``stream``, ``action``, ``model``, ``data`` and ``cursor``.

    ``replayed`` is true in what a resuming subscription is sent before it goes
    live; live events leave it out. The root value an event's selection set runs on.
    """


#: Changes serialized for replays, by epoch, stream and position, on streams without a per-recipient
#: rule (the same for every user): sockets that resume after the same cursor (after a deploy, a network
#: blip) cost one serialization of each change between them, not one each.
serialized = Recent(most=5000, most_size=20_000_000, size=lambda key, entry: entry[1])


class Replay:
    """What a subscription gets before it goes live.

    ``events`` (``ChangeEvent``) in commit order, the changes it missed or one
    ``RESYNC``; ``through`` is the last position they cover: live changes after
    it follow, the others were replayed or were not for it.
    """

    def __init__(self, events, through):
        self.events = events
        self.through = through


def replay(subscription, user, after, action, pk, using=None, most=None, chosen_filter=None):
    """The ``Replay`` of ``subscription`` for ``user`` after the cursor ``after`` (text, or None).

    ``action``, ``pk`` and ``chosen_filter`` are the subscription's (each change
    as it reads to the filter, see ``filters.relative``); the per-recipient rule is
    asked as it stands now. A cursor of another epoch, older than the stream's
    history or further back than ``MAX_REPLAYED_CHANGES`` of its changes (or
    ``most``, when fewer) gives one ``RESYNC`` event.
    """
    meta = subscription._meta
    through = last_position(using)
    if after is None:
        return Replay([], through)
    cursor_epoch, start = parse_cursor(after)
    if cursor_epoch != epoch(using, fresh=True) or start > through:
        return _resync(meta, through, using)
    # The changes the database logged itself (triggers) are the stream's too, where it hears more than saves.
    streams = [meta.stream, database_writes.raw_stream(meta.model)] if meta.bulk_writes else [meta.stream]
    rows = LoggedChange.objects.using(using).filter(
        stream__in=streams, position__gt=start, position__lte=through
    )
    moving = meta.queryset is not None or meta.per_recipient  # objects enter and leave what it shows
    if action in common.CHANGE_ACTIONS and chosen_filter is None and not moving:
        # As it happened is as it reads (not so to a filter or a scope). A bulk write's RESYNC is
        # everybody's.
        rows = rows.filter(action__in=(action, RESYNC))
    if pk is not None:
        rows = rows.filter(Q(object_key=groups.object_key(pk)) | Q(action=RESYNC))
    else:
        rows = rows.exclude(for_object=True)  # a big bulk write's rows: its RESYNC tells this one
    limit = app_settings.get("MAX_REPLAYED_CHANGES")
    most = limit if most is None else min(most, limit)
    rows = list(
        rows.order_by("position").values_list(
            "action",
            "object_key",
            "state",
            "position",
            "previous",
            "scope",
            "audiences",
            "filtered",
            "stream",
        )[: most + 1]
    )
    # After the rows: a prune that took some of them has moved the history's start by now.
    histories = ChangeLogHistory.objects.using(using).filter(stream__in=streams)
    pruned_through = max(histories.values_list("pruned_through", flat=True), default=0)
    if len(rows) > most or start < pruned_through:
        return _resync(meta, through, using)
    key = None if pk is None else groups.object_key(pk)
    if any(row[0] == RESYNC and key not in told_apart(row[2]) for row in rows):
        return _resync(meta, through, using)  # a bulk write too big to report row by row
    rows = [row for row in rows if row[0] != RESYNC]  # those its object's own changes tell
    if database_writes.unjudgeable(meta) and any(row[8] != meta.stream for row in rows):
        return _resync(meta, through, using)  # a database write, which its rules could not judge
    if _longest_run(rows, database_writes.raw_stream(meta.model)) > app_settings.get(
        "BULK_WRITE_MAX_CHANGES"
    ):
        return _resync(meta, through, using)  # database writes too many to report row by row, as live
    rows = [row[:8] if row[8] == meta.stream else _as_logged(meta.model, row, using) for row in rows]
    held = None
    if meta.per_recipient:
        held = _as_seen_by(subscription, user, rows, using)
        if held is None:
            return _resync(meta, through, using)
        rows = [row for row in rows if row[3] in held]
    readings = _read_through(meta, chosen_filter, rows, action, using, held)
    if readings is None:
        return _resync(meta, through, using)
    rows = [row for row in rows if row[3] in readings]
    shared = None if meta.per_recipient else (epoch(using), meta.stream)
    data = _serialized(meta, rows, readings, user, shared, using)
    events = []
    for row in rows:
        position = row[3]
        event = _replayed_event(meta, readings[position][0], data[position], cursor(position, using))
        if readings[position][1] is not None:
            event["cause"] = readings[position][1]
        if shared is not None:
            # The same event for every socket of the same filter: see ``operations``.
            event["shared"] = (*shared, position, *readings[position])
        events.append(event)
    return Replay(events, through)


def _longest_run(rows, stream):
    """How many of ``rows`` (logged changes, position fourth and ``stream`` last) of ``stream`` follow one
    another in the log at most: at positions one after the other, as live delivery counts a run (a
    change of any other stream between them, read here or not, ends it)."""
    longest = length = 0
    last = None
    for row in rows:
        if row[8] != stream:
            length = 0
        elif last is not None and length and row[3] == last + 1:
            length += 1
        else:
            length = 1
        last = row[3]
        longest = max(longest, length)
    return longest


def _as_logged(model, row, using):
    """A row a trigger logged (its columns as the database gives them), as the package logs a change."""
    action_done, key, state, position, previous = row[:5]
    state = state_of(database_writes.instance_from_row(model, state, using))
    if previous:
        previous = state_of(database_writes.instance_from_row(model, previous, using))
    return action_done, key, state, position, previous, None, "", None


def _as_seen_by(subscription, user, rows, using):
    """``{position: held}`` of the logged ``rows`` of a per-recipient stream that ``user`` may replay, or
    None when only a resync is right.

    ``held`` is whether the rule showed the object to the user before and
    after the change, as it was judged then when the user had a socket on the
    stream (None otherwise: the change as it happened), and a change shown
    after it is replayed only if the rule shows the object now. A change not
    judged for the user of an object the rule does not show them now resyncs
    (a delete, or an update that may have taken it out of their view):
    whether they saw it before cannot be asked any more; unless the object
    was created in the gap, then never shown to them (they cannot hold it).
    """
    audience = recipients.key_for(user)
    keys = {row[1] for row in rows}
    visible = {
        groups.object_key(key)
        for key in subscription.get_queryset(user)
        .using(using)
        .filter(pk__in=keys)
        .values_list("pk", flat=True)
    }
    held, unseen = {}, set()  # unseen: objects created in the gap, not replayed to the user
    for action_done, key, _, position, _, _, audiences, _ in rows:
        judged = judged_audiences(audiences, action_done)
        if judged is not None and audience in judged[0]:
            pair = judged[1].get(audience)
            if pair is not None and (not pair[1] or key in visible):
                held[position] = pair
                unseen.discard(key)
            elif action_done == common.CREATE:
                unseen.add(key)
        elif key in visible and action_done != common.DELETE:
            held[position] = None
        elif action_done == common.CREATE:
            unseen.add(key)
        elif key not in unseen:
            return None
    return held


def _read_through(meta, chosen_filter, rows, action, using, recipient_held=None):
    """``{position: (action, cause, state shown)}`` of the rows the subscription hears of, as they read to it.

    Judged on what the log holds: the object as each change left it and as an
    update found it, and whether the stream's scope held it before and after
    (an object that enters or leaves it is created or deleted for the stream,
    and one that left is shown as it was). ``chosen_filter`` (or None) reads
    them as ``filters.relative`` says. ``action`` is the subscription's.
    On a per-recipient stream, ``recipient_held`` says what the rule showed
    the user (``_as_seen_by``). None when a filter that takes a query was not
    asked of a change it may concern (nobody followed it then): only a resync
    is right.
    """
    vendor = connections[using or router.db_for_write(meta.model)].vendor
    readings = {}
    for action_done, _, state, position, previous, scope, _, filtered in rows:
        if recipient_held is not None:
            held = recipient_held[position]
        else:
            held = tuple(json.loads(scope)) if scope else None
        if chosen_filter is None:
            reading = filters.read_plainly(action_done, held)
        else:
            now = instance_from(meta.model, state, using)
            before = instance_from(meta.model, previous, using) if previous else now
            states = filters.sides(action_done, before, now)
            matched = queried(filtered).get(chosen_filter.key) if chosen_filter.queried else (True, True)
            reading = filters.read(
                chosen_filter, action_done, states, held or (None, None), vendor, matched or (True, True)
            )
            if matched is None and reading is not None:
                return None  # its parts judged in Python may match: only the database could say
        if reading is not None and action in (common.ALL_ACTIONS, reading[0]):
            shown = filters.shown(reading[1], held) if previous else filters.AFTER  # unread: as it is now
            readings[position] = (*reading, shown)
    return readings


def _serialized(meta, rows, readings, user, shared, using):
    """Each row's change's data, by position, in the state its reading shows (``_read_through``): kept in
    ``serialized`` when ``shared``, else made now."""
    data, missing = {}, []
    for row in rows:
        shown = readings[row[3]][2]
        kept = serialized.get((*shared, row[3], shown)) if shared is not None else None
        if kept is None:
            missing.append((row, shown))
        else:
            data[row[3]] = kept[0]
    if missing:
        # One serializer for every row (as DRF lists a queryset): building its fields costs more than a row.
        made = meta.serializer_class(
            [
                instance_from(meta.model, row[4] if shown == filters.BEFORE else row[2], using)
                for row, shown in missing
            ],
            many=True,
            context={"user": None if shared is not None else user},
        ).data
        for (row, shown), one in zip(missing, made):
            text = channels_api.encode(one)
            data[row[3]] = json.loads(text)
            if shared is not None:
                serialized.put((*shared, row[3], shown), (data[row[3]], len(text)))
    return data


def _replayed_event(meta, action, data, cursor_text):
    return ChangeEvent(
        stream=meta.stream,
        action=action,
        model=meta.model_label,
        data=data,
        cursor=cursor_text,
        replayed=True,
    )


def _resync(meta, through, using):
    return Replay([_replayed_event(meta, RESYNC, None, cursor(through, using))], through)


# -- Retention -----------------------------------------------------------------------------------


def prune(using=None, now=None):
    """Drop each stream's changes beyond its retention; return how many went."""
    most = app_settings.get("CHANGE_LOG_MAX_CHANGES_PER_STREAM")
    oldest = (now or timezone.now()) - datetime.timedelta(
        seconds=app_settings.get("CHANGE_LOG_MAX_AGE_SECONDS")
    )
    logged = LoggedChange.objects.using(using).filter(position__isnull=False)
    dropped = 0
    for stream in logged.values_list("stream", flat=True).distinct():
        mine = logged.filter(stream=stream)
        beyond_count = mine.order_by("-position").values_list("position", flat=True)[most : most + 1]
        too_old = mine.filter(logged_at__lt=oldest).aggregate(last=Max("position"))["last"]
        cutoff = max([*beyond_count, too_old or 0])
        if not cutoff:
            continue
        # The history's start moves first: a replay reads its rows, then the start, so one that
        # read rows as they went sees the new start and resyncs.
        history, _ = ChangeLogHistory.objects.using(using).get_or_create(stream=stream)
        if cutoff > history.pruned_through:
            ChangeLogHistory.objects.using(using).filter(pk=history.pk).update(pruned_through=cutoff)
        while True:  # in batches: a writer waits for one batch at most (SQLite locks the database)
            batch = list(mine.filter(position__lte=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH])
            if not batch:
                break
            dropped += LoggedChange.objects.using(using).filter(pk__in=batch).delete()[0]
    return dropped


#: How many logged changes ``prune`` deletes in one statement.
PRUNE_BATCH = 1000
