"""Subscribe and unsubscribe requests: checked in full, then applied all at once.

Both entry points (a GraphQL request over HTTP and a frame on the socket) end
here. A request either changes every membership it names or none: the checks
run first, and the records and group changes happen in one transaction.
"""

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import app_settings, change_log, channel_ids, groups, recipients, transport
from .fields import SELECTED_BY_OPERATION
from .models import FilterRoute, SubscriberSocket, SubscriptionRecord
from .protocols import channels_api, common
from .protocols.common import ProtocolError

logger = logging.getLogger(__name__)


class GroupMoves:
    """The groups one socket joins and leaves after a request."""

    def __init__(self):
        self.join = []
        self.leave = []
        #: The change log's position when the joins were recorded: changes at or before it
        #: were committed before them, and are not for them (None: no log).
        self.since = None


def _expand(action, pk):
    if action == common.ALL_ACTIONS:
        # An existing object cannot be created again, so following one object
        # with ALL_ACTIONS means its updates and its deletion.
        if pk is not None:
            return [common.UPDATE, common.DELETE]
        return list(common.CHANGE_ACTIONS)
    return [action]


def _check_action(action):
    if action not in common.ACTIONS:
        raise ProtocolError(
            f"Unknown action {app_settings.echo(action)}: use one of {', '.join(common.ACTIONS)}."
        )


def _primary_key(subscription, pk):
    """``pk`` as the model's primary-key value ("05" is 5), or None when it cannot be one."""
    try:
        value = subscription._meta.model._meta.pk.to_python(pk)
    except (ValidationError, TypeError, ValueError):
        return None
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return None  # no database stores such an integer key: nothing to follow
    return value


def _followed(subscription, operation, action, pk):
    """The followed object's key ('' for every object) and its primary-key value."""
    if pk is None:
        return "", None
    problem = common.id_problem(pk)
    if problem:
        raise ProtocolError(f"id {problem}")
    value = _primary_key(subscription, pk)
    if operation == common.UNSUBSCRIBE:
        # The object may be gone already; unsubscribing from it is still fine. The
        # key is normalised as on subscribe, so the same id text finds the record.
        return groups.object_key(pk if value is None else value), value
    if action == common.CREATE:
        raise ProtocolError(
            f"CREATE cannot take an id on stream {subscription._meta.stream!r}: an object that has an id "
            "was created already. Leave id out to hear of every new object."
        )
    if value is None:
        raise _unknown(subscription, pk)
    return groups.object_key(value), value


def _unknown(subscription, pk):
    return ProtocolError(
        f"Unknown id {app_settings.echo(pk)} on stream {subscription._meta.stream!r}: "
        "no such object can be followed.",
        status=common.STATUS_NOT_FOUND,
    )


def replay_of_gone(subscription, user, action, pk, after, most):
    """The ``Replay`` a subscription to object ``pk``, which no longer exists, is sent when it resumes
    ``after`` a cursor whose gap holds the object's delete (nothing can come after it); else None.

    A subscription to one object is refused once the object is gone, but one that resumes would have
    heard its changes up to the delete. Not on streams with a per-recipient rule, which are never
    asked about a change's past state (such a replay is a RESYNC anyway).
    """
    if subscription._meta.per_recipient or action == common.CREATE or common.id_problem(pk):
        return None
    try:
        _check_permission(subscription, user, _expand(action, pk), pk)
    except ProtocolError:
        return None
    replay = change_log.replay(subscription, user, after, action, pk, most=most)
    if not replay.events or replay.events[-1]["action"] != common.DELETE:
        return None
    return replay


def _check_visible(subscription, user, pk, value):
    # After the permission check, so that a refusal reads the same whether or not
    # the object exists; an object the user may not see looks like a missing one.
    if value is not None and not subscription.get_queryset(user).filter(pk=value).exists():
        raise _unknown(subscription, pk)


def _check_permission(subscription, user, actions, pk):
    for permission_class in subscription._meta.permission_classes:
        permission = permission_class()
        for action in actions:
            if not permission.has_permission(user, action, pk):
                message = getattr(permission, "message", None) or "Permission denied."
                raise ProtocolError(
                    message.format(action=action, stream=subscription._meta.stream),
                    status=common.STATUS_FORBIDDEN,
                )


def _check_owner(owner, user):
    if not recipients.is_current(owner):
        # Deactivated without a signal (a queryset update), for a request that
        # names the socket from elsewhere (HTTP with a token of the project's own).
        raise access_ended()
    if recipients.key_for(user) != owner:
        raise ProtocolError(
            "This channelId belongs to a socket opened by another user: send the request as the "
            "user who opened the socket (log in before connecting it), or use your own socket's channel_id.",
            status=common.STATUS_FORBIDDEN,
        )


def _claim_socket(channel_name):
    """Lock the socket's row for the rest of the transaction; return the row.

    The row has ``pk``, ``user_key``, ``window_started`` and ``window_requests``.

    The first statement of every transaction here is a write, on purpose. SQLite
    then takes its write lock as the transaction starts and waits for it when it
    is busy; a transaction that reads first cannot upgrade to writing while
    another one writes, and fails at once with "database is locked". On
    PostgreSQL it locks the row, so the requests and the disconnect of one
    socket take turns instead of racing.
    """
    claimed = SubscriberSocket.objects.filter(channel_name=channel_name).update(
        connected_at=F("connected_at")
    )
    if not claimed:
        raise ProtocolError(
            "That socket is no longer connected: reconnect and use the channel_id of the new connection."
        )
    return (
        SubscriberSocket.objects.filter(channel_name=channel_name)
        .values_list("pk", "user_key", "window_started", "window_requests", named=True)
        .get()
    )


def admit(channel_name, user, counted=True):
    """Let a request through to ``plan``: its user owns the socket, and the socket's rate allows it.

    Returns the socket's row (see ``_claim_socket``); otherwise raises
    ``ProtocolError``. Runs inside the request's transaction, first (see
    ``_admit_and_plan``). Requests naming another user's socket are refused here
    and count against nobody. A request not ``counted`` here was counted by
    the socket's own consumer (a graphql-transport-ws operation: no other
    process can ask for one, as the socket has no channelId).
    """
    socket = _claim_socket(channel_name)
    _check_owner(socket.user_key, recipients.normalize(user))
    if not counted:
        return socket
    limit = app_settings.get("MAX_REQUESTS_PER_SOCKET_PER_SECOND")
    now = timezone.now()
    sockets = SubscriberSocket.objects.filter(pk=socket.pk)
    started, made = socket.window_started, socket.window_requests
    if started is None or now - started >= timedelta(seconds=1):
        sockets.update(window_started=now, window_requests=1)
    elif made >= limit:
        raise too_many_requests()
    else:
        sockets.update(window_requests=F("window_requests") + 1)
    return socket


def access_ended():
    """The refusal of a request from a socket whose user was deactivated or deleted since it opened."""
    return ProtocolError(
        "This socket's user is no longer active: log in again and open a new socket.",
        status=common.STATUS_FORBIDDEN,
    )


def too_many_requests():
    """The refusal of a request beyond ``MAX_REQUESTS_PER_SOCKET_PER_SECOND``, on either protocol."""
    limit = app_settings.get("MAX_REQUESTS_PER_SOCKET_PER_SECOND")
    return ProtocolError(
        f"Too many requests on this socket: at most {limit} a second. Wait a moment, then try again.",
        status=common.STATUS_TOO_MANY,
    )


def _admit_and_plan(subscription, channel_name, user, then=None, counted=True, **request):
    """``admit``, then ``plan`` and ``then(moves)``, in one transaction; return the moves.

    ``plan`` runs in a savepoint: a request it refuses (an unknown id, say)
    records nothing, yet still counts against the socket's rate, so failing
    requests cannot be sent without limit either. One commit a request.
    """
    with transaction.atomic():
        socket = admit(channel_name, user, counted)
        try:
            with transaction.atomic():
                moves = plan(subscription, socket=socket, user=user, **request)
                if then is not None:
                    then(moves)
                return moves
        except ProtocolError as error:
            refused = error
    raise refused


def plan(
    subscription,
    *,
    socket,
    operation,
    action,
    pk=None,
    fields=None,
    user=None,
    operation_key="",
    chosen_filter=None,
):
    """Check a request and record its effect; return the ``GroupMoves`` to apply.

    Runs after ``admit``, which claimed the ``socket`` row and checked that ``user`` opened it:
    ``user`` is also the user the notifications will reach. Must run inside a
    transaction, so a failure after it leaves no record. Raises
    ``ProtocolError`` (and records nothing) when the request is refused.
    ``operation_key`` names the graphql-transport-ws operation that subscribes
    (its records get every field; see ``fields.SELECTED_BY_OPERATION``); empty for the 2018 protocol.
    ``chosen_filter`` is the ``filters.Filter`` the request follows (None: every object, or ``pk``).
    """
    meta = subscription._meta
    user = recipients.normalize(user)
    if operation not in common.OPERATIONS:
        raise ProtocolError(
            f"Unknown operation {app_settings.echo(operation)}: use subscribe or unsubscribe."
        )
    _check_action(action)
    fields_key = SELECTED_BY_OPERATION if operation_key else meta.catalog.key_for(fields)
    if pk == "":
        pk = None
    if chosen_filter is not None and pk is not None:
        raise ProtocolError(
            "A filter and an id cannot be combined: the id follows one object whatever it holds, a filter "
            "follows every object that matches it. Leave one of them out."
        )
    actions = _expand(action, pk)
    key, value = _followed(subscription, operation, action, pk)
    if operation == common.UNSUBSCRIBE:
        return _unsubscribe(socket.pk, meta.stream, actions, key, action, chosen_filter)
    _check_permission(subscription, user, actions, value)
    _check_visible(subscription, user, pk, value)
    audience = socket.user_key if meta.per_recipient else ""
    target = (key, chosen_filter)
    return _subscribe(socket.pk, meta.stream, actions, target, fields_key, audience, operation_key)


def _subscribe(socket_id, stream, actions, target, fields_key, audience, operation_key):
    key, chosen_filter = target
    moves = GroupMoves()
    if transport.delivers_from_log() and not operation_key:
        # Only servers that read the log use it. A graphql-transport-ws operation starts where its
        # replay ends, read after this commits.
        moves.since = change_log.last_position()
    for action in actions:
        record, created = SubscriptionRecord.objects.get_or_create(
            socket_id=socket_id,
            stream=stream,
            action=action,
            object_key=key,
            filter_key=chosen_filter.key if chosen_filter is not None else "",
            operation=operation_key,
            defaults={
                "fields_key": fields_key,
                "audience": audience,
                "filter": chosen_filter.text if chosen_filter is not None else "",
                "filter_route": chosen_filter.route if chosen_filter is not None else "",
                "filter_queried": chosen_filter is not None and bool(chosen_filter.queried),
            },
        )
        if created and chosen_filter is not None and chosen_filter.routes:
            FilterRoute.objects.bulk_create(
                FilterRoute(record=record, stream=stream, route=route) for route in chosen_filter.routes
            )
        if not created and (record.fields_key, record.audience) != (fields_key, audience):
            # Subscribing again with other fields replaces the selection.
            moves.leave.append(record.group)
            record.fields_key = fields_key
            record.audience = audience
            record.save(update_fields=["fields_key", "audience"])
        moves.join.append(record.group)
    if chosen_filter is not None and chosen_filter.queried:
        _check_queried(stream)
    most = app_settings.get("MAX_SUBSCRIPTIONS_PER_SOCKET")
    held = SubscriptionRecord.objects.filter(socket_id=socket_id).count()
    if held > most:
        # The transaction rolls the new records back.
        raise ProtocolError(
            f"This socket would hold {held} subscriptions; the limit is {most}. "
            "Unsubscribe from some, or follow every object with one subscription."
        )
    return moves


def _check_queried(stream):
    """Refuse one distinct filter more than ``MAX_QUERIED_FILTERS_PER_STREAM`` that the database judges.

    Each is asked of every change of the stream, in the saving request: their
    number, not the sockets following them, is what a save pays.
    """
    most = app_settings.get("MAX_QUERIED_FILTERS_PER_STREAM")
    followed = SubscriptionRecord.objects.filter(stream=stream, filter_queried=True)
    if followed.values("filter_key").distinct().count() > most:
        # The transaction rolls the new records back.
        raise ProtocolError(
            f"Stream {stream!r} already follows {most} distinct filters that the database judges on each "
            "change (MAX_QUERIED_FILTERS_PER_STREAM): follow one of those, or filter on the model's own "
            "columns."
        )


def _unsubscribe(socket_id, stream, actions, key, requested_action, chosen_filter):
    moves = GroupMoves()
    records = SubscriptionRecord.objects.filter(
        socket_id=socket_id,
        stream=stream,
        action__in=actions,
        object_key=key,
        filter_key=chosen_filter.key if chosen_filter is not None else "",
        operation="",
    )
    moves.leave.extend(record.group for record in records)
    if not moves.leave:
        target = f"id {app_settings.echo(key)}" if key else "every object"
        if chosen_filter is not None:
            target = "the objects that match this filter"
        raise ProtocolError(
            f"Nothing to unsubscribe: this socket does not follow {requested_action} "
            f"of {target} on stream {stream!r}."
        )
    records.delete()
    return moves


def run_http_request(subscription, *, operation, action, channel_id, pk, fields, user, chosen_filter=None):
    """Serve a request made over HTTP; return None on success or the error sentence.

    The socket hears a confirmation frame once its memberships changed.
    """
    try:
        channel_name = channel_ids.resolve(channel_id)
        frame = channels_api.confirmation_frame(subscription._meta.stream, operation, action)
        _admit_and_plan(
            subscription,
            channel_name,
            user,
            then=lambda moves: transport.move_groups(channel_name, moves, channels_api.encode(frame)),
            operation=operation,
            action=action,
            pk=pk,
            fields=fields,
            chosen_filter=chosen_filter,
        )
    except ProtocolError as error:
        return str(error)
    except Exception:
        logger.exception("Subscription request on stream %r failed", subscription._meta.stream)
        return str(common.server_error())
    return None


def run_socket_request(subscription, request, channel_name, user):
    """Check and record a request read from the socket, as the socket's ``user`` is now.

    Returns ``(moves, reply)``: the memberships the socket's consumer applies,
    then the reply frame it sends. ``moves`` is None when the request failed.
    """
    user = recipients.current(user)
    if user is None:
        return None, request.error_frame(access_ended())
    data = request.data
    action = data.get("action")
    if action is None:
        error = ProtocolError(
            f'data.action is required, e.g. {{"action": "update"}}: one of {", ".join(common.ACTIONS)}.'
        )
        return None, request.error_frame(error)
    fields = data.get("fields")
    if fields is not None and not isinstance(fields, list):
        return None, request.error_frame(
            ProtocolError('data.fields must be a list of field names, e.g. ["id", "username"].')
        )
    try:
        chosen_filter = _written_filter(subscription, data.get("filter"))
        moves = _admit_and_plan(
            subscription,
            channel_name,
            user,
            operation=request.operation,
            action=action,
            pk=request.pk,
            fields=fields,
            chosen_filter=chosen_filter,
        )
    except ProtocolError as error:
        return None, request.error_frame(error)
    reply = channels_api.reply_frame(
        request.stream, request.operation, data={"action": action}, request_id=request.request_id
    )
    return moves, reply


def _written_filter(subscription, written):
    """The ``filters.Filter`` a socket request's ``data.filter`` asks for, or None without one."""
    if written is None:
        return None
    stream = subscription._meta.stream
    if subscription._meta.filters is None:
        raise ProtocolError(f"Stream {stream!r} declares no filters: leave data.filter out.")
    return subscription._meta.filters.parse_written(written, stream)


def start_operation(subscription, channel_name, user, operation_key, *, action, pk, chosen_filter=None):
    """Record a graphql-transport-ws subscription to ``subscription``'s changes; return the groups to join.

    The same checks as a 2018 subscribe request (permissions, ``get_queryset``,
    the socket's limit of subscriptions), under the socket's own number for the
    operation; its consumer checked the socket's rate. Raises ``ProtocolError``
    when refused.
    """
    moves = _admit_and_plan(
        subscription,
        channel_name,
        user,
        counted=False,
        operation=common.SUBSCRIBE,
        action=action,
        pk=pk,
        operation_key=operation_key,
        chosen_filter=chosen_filter,
    )
    return moves.join


def end_operation(channel_name, operation_key):
    """Drop the records of a socket's graphql-transport-ws operation (one statement)."""
    SubscriptionRecord.objects.filter(socket__channel_name=channel_name, operation=operation_key).delete()
