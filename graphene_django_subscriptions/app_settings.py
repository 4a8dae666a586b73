"""How much a client may send, and how long the package waits: the defaults and the setting that changes them.

Set any of them in ``settings.GRAPHENE_DJANGO_SUBSCRIPTIONS``, e.g.
``GRAPHENE_DJANGO_SUBSCRIPTIONS = {"MAX_FRAME_CHARS": 16384}``.
"""

from django.conf import settings

DEFAULTS = {
    #: The longest socket frame the package reads, in characters.
    "MAX_FRAME_CHARS": 65536,
    #: The longest object id, as text, a request may name.
    "MAX_ID_CHARS": 255,
    #: The longest ``channelId`` a request may carry (the server's own are far shorter).
    "MAX_CHANNEL_ID_CHARS": 512,
    #: The longest ``request_id`` a socket request may carry, as text.
    "MAX_REQUEST_ID_CHARS": 100,
    #: How many subscriptions (one per action and object) one socket may hold.
    "MAX_SUBSCRIPTIONS_PER_SOCKET": 100,
    #: How many subscribe and unsubscribe requests one socket may make in a second.
    "MAX_REQUESTS_PER_SOCKET_PER_SECOND": 20,
    #: How many of one socket's requests may be refused in a second (errors answered to bad frames,
    #: refused subscribes); one more closes the socket (4508): answers the client ignores pile up.
    "MAX_REFUSALS_PER_SOCKET_PER_SECOND": 20,
    #: Bytes of messages the server may hold for a client that does not read them (modern engine, on
    #: daphne); beyond, the socket is closed (4507) and its operations end.
    "MAX_UNREAD_BYTES_PER_SOCKET": 2_000_000,
    #: Bytes of messages a client has sent that its consumer has not handled yet (modern engine, on
    #: daphne); beyond, the server stops reading that socket until it has handled half (no message is lost).
    "MAX_QUEUED_BYTES_PER_SOCKET": 262_144,
    #: The longest ``connection_init`` payload (graphql-transport-ws), in characters of JSON: it is kept
    #: as long as the socket lives (``info.context.connection_params``).
    "MAX_CONNECTION_PARAMS_CHARS": 8192,
    #: Seconds a socket's row outlives its last renewal (modern engine): the longest a socket whose
    #: consumer or server died unseen stays recorded. Each process renews its sockets every third of it.
    "SOCKET_LEASE_SECONDS": 60,
    #: Seconds a send to the channel layer may take before it counts as an outage.
    "LAYER_SEND_TIMEOUT": 2.0,
    #: Changes a process may hold for delivery while the channel layer is slow; beyond, new ones are dropped.
    "MAX_PENDING_CHANGES": 10000,
    #: Seconds an exiting process (a management command) waits for its queued notifications to go.
    "OUTBOX_EXIT_WAIT": 5.0,
    #: The most fields a graphql-transport-ws ChangesField subscription may select (aliases and fragments
    #: expanded): its selection runs for every change.
    "MAX_SELECTED_FIELDS": 500,
    #: The most fields one graphql-transport-ws socket's ChangesField subscriptions select in all, each
    #: distinct selection counted once: together they run for every change.
    "MAX_SELECTED_FIELDS_PER_SOCKET": 2000,
    #: The longest graphql-transport-ws result or event sent, in characters; a longer one ends its
    #: operation with an error (servers refuse to send messages beyond about a megabyte).
    "MAX_RESULT_CHARS": 1_000_000,
    #: Seconds of the server's time one graphql-transport-ws socket's new documents may take to parse and
    #: validate in a minute; past it, documents the server has not seen yet are refused for a while.
    "MAX_CHECKING_SECONDS_PER_SOCKET_PER_MINUTE": 1.0,
    #: Seconds of an operation thread's time one graphql-transport-ws socket's queries and mutations may
    #: take in a minute; past it, its new ones are refused for a while (its subscriptions go on).
    "MAX_OPERATION_SECONDS_PER_SOCKET_PER_MINUTE": 2.0,
    #: How often one selection set of a graphql-transport-ws document may hold fields of one response name
    #: (fragments included; Relay spreads many fragments that each select ``id``): validation compares
    #: every two of them, so its cost grows with the square.
    "MAX_REPEATED_FIELDS": 30,
    #: Threads of a process that run graphql-transport-ws queries and mutations (every socket's).
    "OPERATION_THREADS": 8,
    #: How many of one graphql-transport-ws socket's queries and mutations run at once; later ones wait.
    "MAX_RUNNING_OPERATIONS_PER_SOCKET": 2,
    #: How many of one socket's queries and mutations may wait to run; a further one is refused.
    "MAX_WAITING_OPERATIONS_PER_SOCKET": 8,
    #: Seconds a graphql-transport-ws client has, once connected, to send ``connection_init`` (else 4408).
    "CONNECTION_INIT_WAIT_SECONDS": 3.0,
    #: Whether committed changes are logged (``change_log``), so graphql-transport-ws clients can resume
    #: after a cursor; off, events have no cursor and ``after`` is refused.
    "CHANGE_LOG": True,
    #: Seconds between two reads of the change log by a server process that was not told of a commit
    #: (modern engine): the longest a change waits when the process that saved it died right after
    #: its commit, or the channel layer did not answer.
    "CHANGE_LOG_POLL_SECONDS": 1.0,
    #: The most changes a stream's log keeps; older ones go (a cursor before them gets a RESYNC).
    "CHANGE_LOG_MAX_CHANGES_PER_STREAM": 10000,
    #: Seconds a logged change is kept; older ones go (a cursor before them gets a RESYNC).
    "CHANGE_LOG_MAX_AGE_SECONDS": 86400,
    #: Seconds between two prunings of the change log by a process that delivers changes.
    "CHANGE_LOG_PRUNE_SECONDS": 60.0,
    #: The most changes a subscription resuming after a cursor is sent; a longer gap gets a RESYNC.
    "MAX_REPLAYED_CHANGES": 300,
    #: The most changes one graphql-transport-ws socket's resuming subscriptions are sent in a minute
    #: (each replayed change is read and serialized for it alone); past it, a resume gets a RESYNC.
    "MAX_REPLAYED_CHANGES_PER_SOCKET_PER_MINUTE": 3000,
    #: The most values one filter argument of a subscription may list (``author_In: [...]``): each change
    #: is compared with every one.
    "MAX_FILTER_VALUES": 100,
    #: How many distinct filters that the database judges (across relations, ``method=``, regular
    #: expressions...) the subscribers of one stream may follow: each is asked of every change.
    "MAX_QUERIED_FILTERS_PER_STREAM": 100,
    #: The most rows one ORM bulk write (``QuerySet.update()``, ``bulk_create()``, ``bulk_update()``) is
    #: reported row by row; a bigger one sends each subscriber of its streams one RESYNC instead.
    "BULK_WRITE_MAX_CHANGES": 1000,
    #: Seconds late a notification may reach its socket's server before that server logs it falls behind
    #: (modern engine).
    "NOTIFICATION_LAG_WARNING": 15.0,
}

#: How many characters of a client's value an error sentence quotes.
ECHO_CHARS = 40


def get(name):
    """The limit ``name``: the setting when it is set, else its default."""
    return getattr(settings, "GRAPHENE_DJANGO_SUBSCRIPTIONS", {}).get(name, DEFAULTS[name])


def echo(value):
    """``value`` as an error sentence quotes it: at most ``ECHO_CHARS`` characters of a string."""
    if isinstance(value, str) and len(value) > ECHO_CHARS:
        return repr(value[:ECHO_CHARS]) + f"… ({len(value)} characters)"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]  # as the client wrote it
    if isinstance(value, (str, int, float)):
        text = repr(value)
        return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"
    return f"a JSON {_json_kind(value)}"


def _json_kind(value):
    return {dict: "object", list: "array"}.get(type(value), type(value).__name__)
