"""``GraphqlWsConsumer`` (modern engine): the standard graphql-transport-ws protocol over a Channels socket.

A subscription to a ``ChangesField`` is recorded like a 2018 subscribe
request (same checks, same records, same groups, under the operation's own
number), so a change reaches it by the same path; this process then runs the
operation's selection set once per distinct operation and writes a ``next``
message to each. Queries, mutations and the project's own subscription
fields run too, as graphql-core runs them.
"""

import asyncio
import functools
import inspect
import itertools
import json
import logging
import time

from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.utils.datastructures import MultiValueDict
from graphene_django.settings import graphene_settings
from graphene_django.views import instantiate_middleware
from graphql import ExecutionResult, GraphQLError, execute, subscribe

from .. import app_settings, change_log, changes, operations, rates, recipients, subscribe_requests
from ..close_codes import CloseCode
from ..protocols import common
from ..protocols import graphql_transport_ws as ws
from .modern import RecordedSocket
from .operation_threads import SocketSlots, checking_thread
from .serving import this_process

logger = logging.getLogger(__name__)


class GraphqlWsContext:
    """``info.context`` of the operations a ``GraphqlWsConsumer`` runs: what resolvers read of a request.

    ``user`` is the socket's user, ``session`` its session (if any), ``scope``
    the ASGI scope and ``connection_params`` the ``connection_init`` payload;
    ``META`` holds the handshake's headers as Django names them
    (``HTTP_USER_AGENT``), ``COOKIES`` its cookies, ``FILES`` nothing.
    """

    def __init__(self, user, scope, connection_params):
        self.user = user
        self.scope = scope
        self.session = scope.get("session")
        self.connection_params = connection_params
        self.META = {
            "HTTP_" + name.decode("latin-1").upper().replace("-", "_"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        client = scope.get("client") or ("", None)
        self.META["REMOTE_ADDR"] = client[0]
        self.COOKIES = dict(scope.get("cookies", {}))
        self.FILES = MultiValueDict()


class GraphqlWsConsumer(RecordedSocket):
    """A WebSocket consumer of graphql-transport-ws, for Apollo Client, urql, graphql-ws and GraphiQL.

    Route ``GraphqlWsConsumer.as_asgi()`` behind ``BrowserOriginValidator``
    and ``AuthMiddlewareStack``. It serves ``GRAPHENE["SCHEMA"]`` unless a
    subclass sets ``schema``; override ``authenticate`` for clients that send
    a token in ``connection_init``.

    A message's life: ``receive`` parses it (a message that breaks the protocol
    closes the socket with the protocol's code) and hands it to the handler of
    its type. ``connection_init`` authenticates the user and acknowledges;
    ``ping`` gets its ``pong``; ``subscribe`` is checked (the socket's count of
    operations and rate, its user as they are now, its time spent checking
    documents, then the document itself, off the event loop) and becomes one
    operation under the client's id; ``complete`` ends that operation. An
    operation is one of three kinds, with one interface (``complete()`` when the
    client ends it, ``stop()`` when the socket ends, ``leave(groups)``): a
    ``ChangesField`` subscription (``_Follower``: no task of its own, the
    process's fan-out hands it each change), or a query, a mutation or a
    project's own subscription field (``_Task``: a task that sends ``next``
    messages, then one ``complete`` or ``error``).
    """

    #: The graphene Schema served (default: ``GRAPHENE["SCHEMA"]``).
    schema = None
    #: Validation rules checked beside the specification's, e.g. ``[depth_limit_validator(10)]``
    #: (``graphene.validation``): the protections a project gives its HTTP view, for this socket.
    validation_rules = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One instance per connection (``as_asgi``): what it knows of its client.
        self._init_received = False
        self._acked = False
        self._init_wait = None  # the task that closes a socket left uninitialised
        self._credential = None
        self.context = None
        #: The client's id: the operation that runs under it (``_Follower`` or ``_Task``).
        self._operations = {}
        self._numbers = itertools.count(1)  # each ChangesField operation's record number
        self._endings = set()  # tasks that drop the records of ended followers
        # What the socket may cost: see the Limits of the documentation.
        self._operations_rate = rates.Window("MAX_REQUESTS_PER_SOCKET_PER_SECOND")
        self._pings = rates.Window("MAX_REQUESTS_PER_SOCKET_PER_SECOND")
        self._slots = SocketSlots()
        self._checking = rates.Budget("MAX_CHECKING_SECONDS_PER_SOCKET_PER_MINUTE")
        self._running = rates.Budget("MAX_OPERATION_SECONDS_PER_SOCKET_PER_MINUTE")
        self._replayed = rates.Budget("MAX_REPLAYED_CHANGES_PER_SOCKET_PER_MINUTE")

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stop_everything()

    async def authenticate(self, payload):
        """The user this socket acts for, given the ``connection_init`` payload (a dict; empty if none).

        By default the session's user (``AuthMiddlewareStack``), or anonymous.
        Override it to read a token from ``payload``, and call
        ``authenticated_by(token)`` so that the socket ends with the token, not
        with the session; raise Django's ``PermissionDenied`` to refuse the
        connection (closed with 4403 Forbidden). A user who is not active is refused too.
        """
        return self.scope.get("user")

    def authenticated_by(self, credential):
        """Record that ``credential`` (a token's key, say), not the session, authenticated this socket.

        Call it from ``authenticate``. ``graphene_django_subscriptions.revoke(credential)``
        then closes the socket (call it when the token is deleted), and logging
        the session out does not. Only a digest of it is stored.
        """
        self._credential = credential

    async def connect(self):
        """Accept with the subprotocol, and wait (a while) for ``connection_init``."""
        if await self.closed_without_layer("GraphqlWsConsumer"):
            return
        if ws.SUBPROTOCOL not in self.scope.get("subprotocols", ()):
            await self.accept()
            await self._close(CloseCode.SUBPROTOCOL)
            return
        await self.accept(subprotocol=ws.SUBPROTOCOL)
        self._init_wait = asyncio.ensure_future(self._close_unless_initialised())

    async def _close_unless_initialised(self):
        await asyncio.sleep(app_settings.get("CONNECTION_INIT_WAIT_SECONDS"))
        if not self._init_received:
            await self._close(CloseCode.INIT_TIMEOUT)

    async def receive(self, text_data=None, bytes_data=None):
        """Read one message and act on it; a message that breaks the protocol closes the socket."""
        if self._closing:
            return
        try:
            message = ws.parse(text_data if bytes_data is None else None)
            await self._handle(message)
        except ws.BadMessage as bad:
            await self._close(bad.code, str(bad))
        except Exception:
            logger.exception("A graphql-transport-ws message could not be served; the socket is closed.")
            await self._close(CloseCode.INTERNAL_ERROR)

    async def _handle(self, message):
        await getattr(self, self._handlers[message.type])(message)

    #: The handler of each type of message a client sends (``ws.parse`` admits no other).
    _handlers = {
        ws.CONNECTION_INIT: "_on_connection_init",
        ws.PING: "_on_ping",
        ws.PONG: "_on_pong",
        ws.SUBSCRIBE: "_on_subscribe",
        ws.COMPLETE: "_on_complete",
    }

    async def _on_connection_init(self, message):
        payload = message.payload or {}
        if self._init_received:
            raise ws.BadMessage(ws.REASONS[CloseCode.TOO_MANY_INITS], CloseCode.TOO_MANY_INITS)
        self._init_received = True
        most = app_settings.get("MAX_CONNECTION_PARAMS_CHARS")
        length = len(json.dumps(payload, separators=(",", ":")))
        if length > most:
            # Kept for the socket's life as info.context.connection_params.
            raise ws.BadMessage(
                f"The connection_init payload is {length} characters of JSON; this server takes up to {most}."
            )
        if not isinstance(payload.get(CURSORS, {}), dict):
            raise ws.BadMessage(
                f"connection_init's {CURSORS!r} must be an object: cursors by operation id or name."
            )
        try:
            user = await self.authenticate(payload)
        except PermissionDenied:
            raise ws.BadMessage(ws.REASONS[CloseCode.FORBIDDEN], CloseCode.FORBIDDEN) from None
        # A token may still name a user who is no longer active.
        if await database_sync_to_async(recipients.current)(user) is None:
            raise ws.BadMessage(ws.REASONS[CloseCode.FORBIDDEN], CloseCode.FORBIDDEN)
        self.user = user
        self.context = GraphqlWsContext(user, self.scope, payload)
        await self.record(user, self._credential)
        self._acked = True
        await self._send(ws.ack())

    async def _on_ping(self, message):
        # Beyond the socket's rate a ping goes unanswered: its pongs would pile up
        # in the server for a client that sends and never reads.
        if self._pings.allows():
            await self._send(ws.pong(message.payload))

    async def _on_pong(self, message):
        """A pong needs no answer."""

    async def _on_subscribe(self, message):
        if not self._acked:
            raise ws.BadMessage(ws.REASONS[CloseCode.UNAUTHORIZED], CloseCode.UNAUTHORIZED)
        if message.id in self._operations:
            raise ws.BadMessage(f"Subscriber for {message.id} already exists", CloseCode.DUPLICATE_ID)
        await self._start(message.id, message.payload)

    async def _on_complete(self, message):
        operation = self._operations.get(message.id)
        if operation is not None:
            operation.complete()

    async def _start(self, id, payload):
        most = app_settings.get("MAX_SUBSCRIPTIONS_PER_SOCKET")
        if len(self._operations) >= most:
            await self._refuse(id, f"This socket runs {most} operations, its limit: complete one first.")
            return
        refusal = self._over_rate()
        if refusal:
            await self._refuse(id, refusal)
            return
        # Each operation runs as the user is now: a demotion or a quiet deactivation holds at once.
        user = await database_sync_to_async(recipients.current)(self.user)
        if user is None:
            await self._close(CloseCode.UNAUTHORIZED)
            return
        self.user = self.context.user = user
        schema = self._graphql_schema()
        if self._checking.exhausted() and not operations.checked_documents.get(
            operations.document_key(schema, payload["query"], self.validation_rules)
        ):
            await self._refuse(id, self.checking_exhausted())
            return
        try:
            # Off the event loop: validating a large document can take a second.
            check = sync_to_async(operations.prepare, thread_sensitive=False, executor=checking_thread())
            prepared = await check(schema, payload, self.validation_rules)
        except operations.OperationErrors as failed:
            self._checking.spend(failed.cost)
            await self._refuse(id, [error.formatted for error in failed.errors])
            return
        self._checking.spend(prepared.cost)
        if prepared.kind == operations.CHANGES:
            await self._follow(id, prepared)
            return
        if prepared.kind == operations.SINGLE and self._slots.full():
            await self._refuse(id, self.too_many_waiting())
            return
        if prepared.kind == operations.SINGLE and self._running.exhausted():
            await self._refuse(id, self.running_exhausted())
            return
        run = self._run_single if prepared.kind == operations.SINGLE else self._run_subscription
        self._operations[id] = _Task(self, id, run(id, prepared))

    async def _follow(self, id, prepared):
        """Record a subscription to a ChangesField and join its groups here."""
        selections = {op.selection for op in self._operations.values()} - {None}
        if prepared.selection not in selections:
            selected = sum(selection.fields for selection in selections) + prepared.selection.fields
            most = app_settings.get("MAX_SELECTED_FIELDS_PER_SOCKET")
            if selected > most:
                await self._refuse(
                    id,
                    f"This socket's subscriptions would select {selected} fields an event in all; the limit "
                    f"is {most}. Select fewer, or give subscriptions the same selection (it runs once).",
                )
                return
        after = self._resume_cursor(id, prepared)
        if after is not None:
            refusal = _cursor_refusal(after)
            if refusal:
                await self._refuse(id, refusal)
                return
        number = str(next(self._numbers))
        try:
            groups = await database_sync_to_async(subscribe_requests.start_operation)(
                prepared.subscription,
                self.channel_name,
                self.user,
                number,
                action=prepared.action,
                pk=prepared.pk,
                chosen_filter=prepared.filter,
            )
        except common.ProtocolError as refused:
            if after is not None and refused.status == common.STATUS_NOT_FOUND and change_log.enabled():
                if await self._replay_gone(id, number, prepared, after):
                    return
            await self._refuse(id, str(refused))
            return
        except Exception:
            logger.exception(
                "A graphql-transport-ws subscription on stream %r failed", prepared.subscription._meta.stream
            )
            await self._error(id, str(common.server_error()))
            return
        if self._closing or not self._recorded:
            return  # closed meanwhile: disconnect() forgets the records
        follower = _Follower(self, id, number, prepared.selection, groups, one_object=prepared.pk is not None)
        self._operations[id] = follower
        for group in groups:
            this_process.groups.join(follower, group, key=follower.member_key)
        if not change_log.enabled():
            follower.live()
            return
        # Recorded and in its groups: every change committed from now on reaches it live. What
        # the log holds up to now is replayed (when resuming); live ones up to there are dropped.
        try:
            # Each replayed change is read and serialized for this socket alone: a socket that
            # resumes over and over gets a RESYNC once its minute's share is sent.
            replay = await database_sync_to_async(change_log.replay)(
                prepared.subscription,
                self.user,
                after,
                prepared.action,
                prepared.pk,
                most=int(self._replayed.left()),
                chosen_filter=prepared.filter,
            )
            self._replayed.spend(sum(event["action"] != change_log.RESYNC for event in replay.events))
        except Exception:
            logger.exception("Could not replay the change log for a subscription on stream %r",
                             prepared.subscription._meta.stream)  # fmt: skip
            self.end_follower(follower, ws.error(id, [{"message": str(common.server_error())}]))
            return
        await follower.resume(replay)

    async def _replay_gone(self, id, number, prepared, after):
        """Send a resuming subscription to a deleted object its changes up to the delete, then ``complete``.

        Returns False (nothing sent) unless the log holds that delete after ``after``.
        """
        replay = await database_sync_to_async(subscribe_requests.replay_of_gone)(
            prepared.subscription, self.user, prepared.action, prepared.pk, after, int(self._replayed.left())
        )
        if replay is None or self._closing:
            return False
        self._replayed.spend(len(replay.events))
        follower = _Follower(self, id, number, prepared.selection, (), one_object=True)
        self._operations[id] = follower
        await follower.resume(replay)  # its DELETE ends it with ``complete``
        return True

    def _resume_cursor(self, id, prepared):
        """The cursor ``id`` resumes after: ``connection_init``'s by id or name, else ``after``, or None."""
        cursors = self.context.connection_params.get(CURSORS) or {}
        for key in (id, prepared.name):
            if key is not None and key in cursors:
                return cursors[key]
        return prepared.after

    def _over_rate(self):
        """Why this operation is refused for the socket's rate, or None.

        Every ``subscribe`` counts, queries included: each one costs the server a
        validation, and most a turn of the thread that serves the database. This
        is the socket's one count (``subscribe_requests.admit`` counts 2018 requests only).
        """
        return None if self._operations_rate.allows() else str(subscribe_requests.too_many_requests())

    def checking_exhausted(self):
        """The error sentence for a new document once the socket's checking time is spent."""
        return (
            "This socket's new documents took the server more than "
            f"{app_settings.get('MAX_CHECKING_SECONDS_PER_SOCKET_PER_MINUTE')} s to check in the last "
            "minute, its limit. Send documents the server has already seen, or wait a moment, then try again."
        )

    def running_exhausted(self):
        """The error sentence for a query or mutation once the socket's running time is spent."""
        return (
            "This socket's queries and mutations took the server more than "
            f"{app_settings.get('MAX_OPERATION_SECONDS_PER_SOCKET_PER_MINUTE')} s in the last minute, "
            "its limit. Wait a moment, then try again."
        )

    def too_many_waiting(self):
        """The error sentence for a query or mutation beyond the ones a socket may have waiting."""
        running = app_settings.get("MAX_RUNNING_OPERATIONS_PER_SOCKET")
        waiting = app_settings.get("MAX_WAITING_OPERATIONS_PER_SOCKET")
        return (
            f"This socket has {running} queries and mutations running and {waiting} waiting, its limit: "
            "wait for their results before sending more."
        )

    def result_too_long(self, id, length):
        """The error sentence for a result of ``length`` characters."""
        return (
            f"The result of operation {id!r} is {length} characters long; this server sends results of up "
            f"to {app_settings.get('MAX_RESULT_CHARS')}: select fewer fields. The operation is ended."
        )

    def forget(self, operation):
        """Take ``operation`` off the socket's running ones (its id is free again), if it still is."""
        if self._operations.get(operation.id) is operation:
            del self._operations[operation.id]
            return True
        return False

    def end_follower(self, follower, reply):
        """End ``follower``'s operation here at once, send ``reply`` (a message or None), drop its records."""
        if not self.forget(follower):
            return
        follower.leave(None)
        ending = asyncio.ensure_future(self._end_follower(follower, reply))
        self._endings.add(ending)  # the loop keeps only a weak reference to a task
        ending.add_done_callback(self._endings.discard)

    async def _end_follower(self, follower, reply):
        if reply is not None:
            await self._send(reply)
        end = database_sync_to_async(subscribe_requests.end_operation)
        await end(self.channel_name, follower.record_number)

    async def _next(self, id, result):
        """Send a ``next`` message; False (after an ``error`` instead) when it is too long to send."""
        try:
            text = ws.encode({"id": id, "type": ws.NEXT, "payload": operations.result_payload(result)})
        except (TypeError, ValueError):
            # A resolver returned what JSON cannot hold (a set, a model instance): the project's
            # bug, but the client must still hear that its operation is over.
            logger.exception("The result of graphql-transport-ws operation %r is not JSON", id)
            self._release(id)
            await self._error(id, f"The server could not encode the result of operation {id!r}; it is ended.")
            return False
        if len(text) > app_settings.get("MAX_RESULT_CHARS"):
            self._release(id)
            await self._error(id, self.result_too_long(id, len(text)))
            return False
        await self.send(text_data=text)
        return True

    async def _run_single(self, id, prepared):
        # While it runs, the socket reads on: a ping, a complete, another operation.
        # Counted when the thread is done, even after a complete: the time was taken.
        spend = functools.partial(asyncio.get_running_loop().call_soon_threadsafe, self._running.spend)
        result = await self._slots.run(self._execute, prepared, spend)
        if await self._next(id, result):
            self._release(id)
            await self._send(ws.complete(id))

    def _execute(self, prepared, spend):
        """The operation's result; ``spend`` is told the seconds of this thread's time it took."""
        started = time.thread_time()
        try:
            result = execute(
                self._graphql_schema(),
                prepared.document,
                context_value=self.context,
                variable_values=prepared.variables,
                operation_name=prepared.operation_name,
                middleware=list(instantiate_middleware(graphene_settings.MIDDLEWARE)),
            )
            if inspect.isawaitable(result):  # async resolvers
                result = async_to_sync(_awaited)(result)
        except Exception as exc:
            logger.exception("A graphql-transport-ws operation failed")
            result = ExecutionResult(data=None, errors=[GraphQLError(str(exc), original_error=exc)])
        finally:
            spend(time.thread_time() - started)
        return result

    async def _run_subscription(self, id, prepared):
        stream = await subscribe(
            self._graphql_schema(),
            prepared.document,
            context_value=self.context,
            variable_values=prepared.variables,
            operation_name=prepared.operation_name,
        )
        if isinstance(stream, ExecutionResult):
            self._release(id)
            await self._send(ws.error(id, [error.formatted for error in stream.errors or ()]))
            return
        try:
            async for result in stream:
                if not await self._next(id, result):
                    return
        except Exception as exc:
            # The project's generator failed: end this operation, keep the socket. Its message
            # reaches the client word for word, as a query resolver's does (graphene's rule).
            logger.exception("A graphql-transport-ws subscription failed; it is ended.")
            self._release(id)
            error = exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
            await self._send(ws.error(id, [error.formatted]))
            return
        finally:
            await stream.aclose()
        self._release(id)
        await self._send(ws.complete(id))

    def _release(self, id):
        # Before the operation's last message: the client may reuse the id as soon as it reads it.
        operation = self._operations.get(id)
        if operation is not None and operation.runs_now():
            self.forget(operation)

    def leave_groups(self, groups):
        """Take the socket's subscriptions out of ``groups`` here (None: out of every group)."""
        for operation in list(self._operations.values()):
            operation.leave(groups)

    def _stop_everything(self):
        if self._init_wait is not None:
            self._init_wait.cancel()
        for operation in self._operations.values():
            operation.stop()
        self._operations.clear()

    async def disconnect(self, code):
        """Stop every operation and forget the socket and its records."""
        self._closing = True
        self._stop_everything()
        await super().disconnect(code)

    def _graphql_schema(self):
        schema = self.schema or graphene_settings.SCHEMA
        return getattr(schema, "graphql_schema", schema)

    async def _error(self, id, message):
        await self._send(ws.error(id, [{"message": message}]))

    async def _refuse(self, id, errors):
        """Answer a ``subscribe`` that will not run with ``errors`` (a sentence, or formatted errors).

        Past ``MAX_REFUSALS_PER_SOCKET_PER_SECOND`` the socket is closed instead.
        """
        if await self.refused_too_often():
            return
        await self._send(ws.error(id, [{"message": errors}] if isinstance(errors, str) else errors))

    async def close_for(self, code):
        """Close the socket with ``code``: its operations end, it reads no further message."""
        self._stop_everything()
        await super().close_for(code)

    async def _send(self, message):
        await self.send(text_data=ws.encode(message))

    async def _close(self, code, reason=None):
        self._closing = True
        await self.close(code=code, reason=reason or ws.REASONS.get(code))


async def _awaited(awaitable):
    return await awaitable


#: The key of ``connection_init``'s payload that maps operation ids or names to the cursors they resume after.
CURSORS = "cursors"


def _cursor_refusal(after):
    """Why a subscription cannot resume after ``after``, or None."""
    if not change_log.enabled():
        return "This server keeps no change log (CHANGE_LOG is off): subscribe without a cursor."
    try:
        change_log.parse_cursor(after)
    except change_log.BadCursor as bad:
        return str(bad)
    return None


#: Selections of more fields than this run after the narrower ones of a change.
WIDE_FIELDS = 50


class _Task:
    """A query, a mutation or a project's own subscription field: a task that sends its own messages."""

    #: It runs no selection on changes.
    selection = None

    def __init__(self, consumer, id, coroutine):
        self.consumer = consumer
        self.id = id
        self.task = asyncio.ensure_future(coroutine)
        self.task.add_done_callback(self._done)

    def complete(self):
        """The client ended it: nothing more is sent, and its id is free."""
        self.consumer.forget(self)
        self.task.cancel()

    def stop(self):
        """The socket ends."""
        self.task.cancel()

    def leave(self, groups):
        """A task is in no group."""

    def runs_now(self):
        """Whether the code running now is this operation's own task."""
        return self.task is asyncio.current_task()

    def _done(self, task):
        self.consumer.forget(self)
        if not task.cancelled() and task.exception() is not None:
            logger.error("A graphql-transport-ws operation failed", exc_info=task.exception())


class _Follower:
    """One ``ChangesField`` operation of a socket: a member of the socket's groups here.

    It starts by waiting: changes handed to it are kept until ``resume`` has
    sent what the log holds for it (``change_log.replay``); then it is live.
    """

    def __init__(self, consumer, id, number, selection, groups, *, one_object):
        self.consumer = consumer
        #: The id the client gave the operation in its ``subscribe``.
        self.id = id
        #: The operation's number among the socket's, as its subscription records hold it.
        self.record_number = number
        self.one_object = one_object
        #: Its key among the members of a group here (``fanout.LocalGroups``).
        self.member_key = f"{consumer.channel_name}/{number}"
        self.selection = selection
        self.groups = list(groups)
        self._id_text = json.dumps(id)
        #: Whether its selection is costly to run (see ``fanout.LocalGroups.write``).
        self.wide = selection.fields > WIDE_FIELDS
        self._waiting = []  # the changes handed to it before it is live (``MadeOnce``), or None
        self._missed = None  # the last change it could not keep while waiting
        self._through = None  # changes at or before this log position were replayed, or not for it

    def complete(self):
        """The client ended it: no answer; its records go."""
        self.consumer.end_follower(self, None)

    def stop(self):
        """The socket ends (its records go with the socket's)."""
        self.leave(None)

    def runs_now(self):
        """A follower has no task of its own."""
        return False

    def live(self):
        """Send changes as they come, from now on (no change log to start from)."""
        self._waiting = None

    async def resume(self, replay):
        """Send ``replay``'s events, then the changes kept meanwhile that come after it, then go live."""
        self._through = replay.through
        for event in replay.events:
            if not self._active() or not await self._send_event(event):
                return
        while self._waiting and self._active():
            made = self._waiting.pop(0)
            if self._after_seam(made.event):
                await self._send_made(made)
        missed, self._missed = self._missed, None
        # More changes came while it waited than it may keep: the client refetches. Unless the last
        # of them was replayed (or not for it): they came in order, so all of them were (a server
        # reading the log late hands a resuming operation changes from before its cursor).
        if missed is not None and self._active() and self._after_seam(missed):
            self._through = missed.get("position")
            resync = change_log.ChangeEvent(missed, action=change_log.RESYNC, data=None, replayed=True)
            await self._send_event(resync)
        self._waiting = None

    async def deliver(self, text, made):
        """Write the ``next`` message of a notification (the frame of every field, with its log position).

        Returns whether it ran the selection (the first of the change's members with it).
        """
        if made.event is None:
            try:
                made.event = changes.event_from_frame(json.loads(text))
            except Exception:
                logger.exception("Could not read a notification")
                return True
        if self._waiting is not None:
            if len(self._waiting) < app_settings.get("MAX_REPLAYED_CHANGES"):
                self._waiting.append(made)
            else:
                self._missed = made.event
            return False
        if not self._after_seam(made.event):
            return False
        return await self._send_made(made) is not False

    def _after_seam(self, event):
        # A change at or before the replay's last position was replayed, or was not for it.
        position = event.get("position")
        return self._through is None or position is None or position > self._through

    def _active(self):
        return self.consumer._operations.get(self.id) is self

    async def _send_made(self, made):
        """Send the change ``made`` holds; whether it ran the selection (None: it could not)."""
        payload = made.payloads.get(self.selection)
        ran = payload is None
        if payload is None:
            try:
                payload = made.payloads[self.selection] = self.selection.render(made.event)
            except Exception:
                logger.exception("Could not run a subscription's selection on a change")
                return None
        await self._send_payload(payload, made.event["action"])
        return ran

    async def _send_event(self, event):
        """Run the selection on ``event`` and send it; whether the operation goes on."""
        try:
            payload = self.selection.render_replayed(event)
        except Exception:
            logger.exception("Could not run a subscription's selection on a replayed change")
            return True
        return await self._send_payload(payload, event["action"])

    async def _send_payload(self, payload, action):
        """Send one ``next`` message; whether the operation goes on."""
        if len(payload) > app_settings.get("MAX_RESULT_CHARS"):
            too_long = self.consumer.result_too_long(self.id, len(payload))
            self.consumer.end_follower(self, ws.error(self.id, [{"message": too_long}]))
            return False
        await self.consumer.send(text_data=ws.next_text(self._id_text, payload))
        if self.one_object and action == common.DELETE:
            self.consumer.end_follower(self, ws.complete(self.id))  # nothing more can come
            return False
        return True

    def leave(self, groups):
        """Leave ``groups`` here (None: every group of the operation)."""
        leaving = self.groups if groups is None else set(self.groups).intersection(groups)
        for group in leaving:
            this_process.groups.leave(self.member_key, group)
