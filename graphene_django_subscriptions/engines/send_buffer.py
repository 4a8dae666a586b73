"""How many bytes daphne still holds for a socket's client (modern engine).

ASGI gives an application no back-pressure: a client that never reads makes
its server buffer every message sent to it, without end. daphne keeps that
buffer in the connection's Twisted transport, which the ``send`` callable it
hands the application leads to. For other ASGI servers, and for daphne's own
TLS, the figure is unknown (None) and the package cannot bound it (a
TLS-terminating proxy in front of daphne is the usual set-up).
"""

#: How many wrappers of ``send`` (middleware) ``transport_of`` looks through.
_DEPTH = 8


def transport_of(send):
    """The transport behind daphne's ``send`` callable, or None when ``send`` is not daphne's."""
    for _ in range(_DEPTH):
        # daphne: functools.partial(server.handle_reply, protocol).
        for holder in getattr(send, "args", ()):
            transport = getattr(holder, "transport", None)
            if transport is not None:
                return transport
        # Channels' SessionMiddleware hands the application a send of its own, over the server's.
        send = getattr(getattr(send, "__self__", None), "real_send", None)
        if send is None:
            return None
    return None


def unsent_bytes(transport):
    """Bytes written to ``transport`` that its client has not taken yet; None when it does not say."""
    try:  # Twisted's FileDescriptor, as in twisted.internet.abstract
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except AttributeError:
        return None
