"""Which sockets may open: a browser's only from the site's own pages, every other client's.

A browser sends an ``Origin`` header with every WebSocket it opens, and the
visitor's cookies with it, whichever site's page opened it: a page of another
site must not hear what the visitor may hear. A socket without an ``Origin``
is no browser's (a mobile app, a script, another server); it carries no
cookie a browser attached for it, so it can only authenticate with a token of
its own, or stay anonymous, and it is served. One without an ``Origin`` that
carries cookies is refused: no browser sends that, and any other client that
holds cookies can send the site's origin too.
"""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from .app_settings import echo

logger = logging.getLogger(__name__)

#: The hosts Django's development server accepts when ``ALLOWED_HOSTS`` is empty and ``DEBUG`` is on.
DEBUG_HOSTS = ["localhost", "127.0.0.1", "[::1]"]


def refused(headers, path):
    """Whether a socket to ``path`` opened with ``headers`` must be refused; a refusal is logged, with why."""
    reason = refusal(headers)
    if reason is not None:
        logger.warning("Refused a WebSocket to %s: %s.", echo(path), reason)
    return reason is not None


def refusal(headers):
    """Why a socket opened with ``headers`` (``(name, value)`` byte pairs) must be refused, or None."""
    origin = cookie = None
    for name, value in headers:
        if name == b"origin":
            origin = value
        elif name == b"cookie":
            cookie = value
    if origin is None:
        if cookie:
            return (
                "it has no Origin header but carries cookies; browsers always send Origin, and other "
                "clients that hold cookies must send the site's origin too"
            )
        return None
    text = origin.decode("latin-1")
    host = _host(text)
    allowed = settings.ALLOWED_HOSTS or (DEBUG_HOSTS if settings.DEBUG else [])
    if host is None or not validate_host(host, allowed):
        return (
            f"its Origin {echo(text)} is not a host of ALLOWED_HOSTS ({', '.join(allowed) or 'empty'}); "
            "a page of another site may not open a socket with its visitor's cookies"
        )
    return None


def _host(origin):
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return None
    if not host:
        return None  # "null": a sandboxed page or a file
    return f"[{host}]" if ":" in host else host
