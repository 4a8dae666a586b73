"""What the server remembers about sockets, shared by every process through the database.

The channel layer delivers; these rows say which groups exist and which
socket joined them, so any process can fan a change out to exactly the live
field selections, and a socket's memberships can be dropped when it closes,
whichever process or request created them.
"""

from django.db import models
from django.utils import timezone

from .groups import group_name
from .recipients import ANONYMOUS


class SubscriberSocket(models.Model):
    """One open WebSocket connection, known by its channel name, and who opened it."""

    channel_name = models.CharField(max_length=255, unique=True)
    connected_at = models.DateTimeField(auto_now_add=True)
    #: When the socket's server last said it is open (see ``sockets``): its lease.
    renewed_at = models.DateTimeField(default=timezone.now, db_index=True)
    #: The key of the user who opened the socket (see ``recipients.key_for``):
    #: only that user's requests may name it.
    user_key = models.CharField(max_length=255, default=ANONYMOUS, db_index=True)
    #: The session the socket was opened with; its logout closes the socket.
    session_key = models.CharField(max_length=64, blank=True, default="", db_index=True)
    #: ``recipients.password_key`` of the user at connect: a password change closes the socket.
    password_key = models.CharField(max_length=64, blank=True, default="")
    #: The start of the socket's current one-second request window, and its requests so far.
    window_started = models.DateTimeField(null=True, blank=True)
    window_requests = models.PositiveIntegerField(default=0)

    def __str__(self):
        return self.channel_name


class SubscriptionRecord(models.Model):
    """One socket following one action of one stream, for one object or all."""

    socket = models.ForeignKey(SubscriberSocket, on_delete=models.CASCADE, related_name="subscriptions")
    stream = models.CharField(max_length=64)
    action = models.CharField(max_length=8)
    #: The followed object's primary key as text; empty for every object.
    object_key = models.CharField(max_length=255, blank=True, default="")
    #: Which serializer fields this socket wants (see ``fields.FieldCatalog``).
    fields_key = models.CharField(max_length=64)
    #: The socket's user key on a stream with a per-recipient rule; empty on the others.
    audience = models.CharField(max_length=255, blank=True, default="")
    #: The graphql-transport-ws operation this record serves (the socket's own number for it);
    #: empty for the 2018 protocol, where a socket follows each target once.
    operation = models.CharField(max_length=20, blank=True, default="")
    #: The key of the followed filter (``filters.Filter.key``); empty when the socket filters nothing.
    filter_key = models.CharField(max_length=20, blank=True, default="")
    #: The followed filter, as ``filters.Filter.text`` writes it (any process rebuilds it); empty for none.
    filter = models.TextField(blank=True, default="")
    #: Where a change finds the filter (``filters.Filter.route``): by a value it holds, "*" for all, or
    #: "+" by any of several values (its ``routes``).
    filter_route = models.CharField(max_length=20, blank=True, default="")
    #: Whether the database judges the filter (``filters.Filter.queried``): each change asks it.
    filter_queried = models.BooleanField(default=False)

    class Meta:
        unique_together = [("socket", "stream", "action", "object_key", "filter_key", "operation")]
        indexes = [
            models.Index(fields=["stream", "action", "object_key"], name="gds_record_target"),
            models.Index(fields=["stream", "filter_route"], name="gds_record_filter_route"),
        ]

    @property
    def group(self):
        """The channel-layer group this record's socket is a member of."""
        return group_name(
            self.stream, self.action, self.object_key, self.fields_key, self.audience, self.filter_key
        )

    def __str__(self):
        return f"{self.socket_id} {self.stream}/{self.action}/{self.object_key or '*'}"


class FilterRoute(models.Model):
    """One value by which a change finds a record whose filter lists several (an ``in`` part's).

    Its record's ``filter_route`` is ``filters.SEVERAL_VALUES``; a change of
    the stream reads the records whose routes its values make (``filters.routes``).
    """

    record = models.ForeignKey(SubscriptionRecord, on_delete=models.CASCADE, related_name="routes")
    stream = models.CharField(max_length=64)
    route = models.CharField(max_length=20)

    class Meta:
        indexes = [models.Index(fields=["stream", "route"], name="gds_filter_route_value")]

    def __str__(self):
        return f"{self.stream} {self.route} -> {self.record_id}"


class LoggedChange(models.Model):
    """One committed change of one stream, as the change log keeps it (see ``change_log``).

    Written in the transaction that makes the change; the database gives it its
    ``position`` as that transaction commits, so positions are in commit order.
    """

    id = models.BigAutoField(primary_key=True)
    stream = models.CharField(max_length=64)
    action = models.CharField(max_length=8)
    #: The object's primary key as text.
    object_key = models.CharField(max_length=255)
    #: The object's column values as stored by the change, as JSON (see ``change_log.state_of``).
    state = models.TextField()
    #: The column values the change replaced, as JSON, for an update of a model with filtered streams
    #: (filters are judged on both states); null when they were not read.
    previous = models.TextField(blank=True, null=True)
    #: On a stream with a ``Meta.queryset``, whether its scope held the object before and after the
    #: change, as JSON (``[true, false]``: it left; null for a side where the object did not exist).
    scope = models.TextField(blank=True, null=True)
    #: On a stream with a per-recipient rule, who was asked when the change was made, and who may hear
    #: of it: JSON ``{"judged": [audience, ...], "allowed": [...], "before": [...]}`` (who saw it before
    #: an update); empty on the others.
    audiences = models.TextField(blank=True, default="")
    #: On a stream with filters that take a query, whether the object matched each one followed then,
    #: before and after the change: JSON ``{filter key: [before, after]}``; null on the others.
    filtered = models.TextField(blank=True, null=True)
    #: True when only the subscribers of this one object hear of it: a row of a bulk write too big to
    #: report to every subscriber (they are told to resync), see ``bulk_writes``. Null otherwise, so that
    #: the database's triggers (``database_writes``), which name the columns they write, need no change.
    for_object = models.BooleanField(null=True)
    #: The change's place in commit order, set by the database as its transaction commits.
    position = models.BigIntegerField(null=True, db_index=True)
    logged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["stream", "position"], name="gds_log_stream_position")]

    def __str__(self):
        return f"{self.position} {self.stream}/{self.action}/{self.object_key}"


class ChangeLogHistory(models.Model):
    """How far back a stream's logged changes go: the positions up to ``pruned_through`` are gone."""

    stream = models.CharField(max_length=64, unique=True)
    pruned_through = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.stream} after {self.pruned_through}"


class ChangeLogEpoch(models.Model):
    """The change log's epoch: made with the log, so a cursor of another or a reset database is known."""

    epoch = models.CharField(max_length=32)

    def __str__(self):
        return self.epoch


class OrmWrite(models.Model):
    """A table the ORM is writing in the transaction that holds this row (see ``database_writes``).

    Never committed: the writing transaction deletes it before it commits, and
    no other transaction sees it meanwhile. While it is there, the table's
    triggers log nothing: the ORM reports that write itself.
    """

    table_name = models.CharField(max_length=255, db_index=True)
