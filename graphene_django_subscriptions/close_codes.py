"""The WebSocket close codes the package sends, one name each, on both protocols.

Plain integers: they go to ``close(code=...)`` and into log lines as numbers.
The "Close codes" table of docs/reference.rst lists them all (a test compares the two).
"""


class CloseCode:
    """Why the server closed a socket. Codes the graphql-transport-ws protocol defines keep its meaning."""

    #: graphql-transport-ws: a message breaks the protocol.
    BAD_REQUEST = 4400
    #: The socket may not act: its user's access ended (logout, password change, deactivation,
    #: deletion, a revoked token; both protocols), or a ``subscribe`` came before ``connection_ack``.
    UNAUTHORIZED = 4401
    #: graphql-transport-ws: ``authenticate`` refused the ``connection_init`` payload.
    FORBIDDEN = 4403
    #: graphql-transport-ws: the socket did not ask for the ``graphql-transport-ws`` subprotocol.
    SUBPROTOCOL = 4406
    #: graphql-transport-ws: no ``connection_init`` within ``CONNECTION_INIT_WAIT_SECONDS``.
    INIT_TIMEOUT = 4408
    #: graphql-transport-ws: a ``subscribe`` reused the id of a running operation.
    DUPLICATE_ID = 4409
    #: The server forgot the socket while it was open (its lease ran out while its server
    #: stalled; modern engine): reconnect and subscribe again.
    FORGOTTEN = 4410
    #: graphql-transport-ws: a second ``connection_init``.
    TOO_MANY_INITS = 4429
    #: graphql-transport-ws: a fault of the server while it set the socket up.
    INTERNAL_ERROR = 4500
    #: The client does not read: the server held more than ``MAX_UNREAD_BYTES_PER_SOCKET``
    #: of what it sent (modern engine, on daphne).
    UNREAD = 4507
    #: The client kept sending past ``MAX_REFUSALS_PER_SOCKET_PER_SECOND`` refusals in a second.
    REFUSED_TOO_OFTEN = 4508


def named():
    """``{code: name}`` of every close code."""
    return {value: name for name, value in vars(CloseCode).items() if name.isupper()}
