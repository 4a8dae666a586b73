"""Reading the channel layer through its outages (modern engine): a socket outlives a Redis restart.

Channels lets a consumer die when reading its channel fails, which closes
its socket (1011); and redis-py gives up a blocking read that outlasts its
``socket_timeout`` ("Timeout reading from ..."). The package's consumers and
its server channel read through ``survive``: a timed-out read is simply made
again; any other failure is an outage of the layer, logged once for the whole
process, and the read is tried again every ``RETRY_DELAY`` seconds. The
server channel says when the layer answers again (``answered``), in one line
that says what was lost.
"""

import asyncio
import logging
import time

logger = logging.getLogger(__name__)

#: Seconds before reading the layer again after it failed.
RETRY_DELAY = 1.0

#: When this process's outage began (a monotonic time), or None while the layer answers.
_outage_began = None


async def survive(receive, recover=None):
    """``await receive()``, made again until it gives a message: a layer failure ends no socket.

    After an outage, ``await recover()`` (if given) comes before the next read:
    it puts back what a layer restarted empty forgot, and its success means
    the layer answers again.
    """
    outage = False
    while True:
        try:
            if outage and recover is not None:
                await recover()
                answered()
            outage = False
            return await receive()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if _is_timeout(exc) and not outage:
                # redis-py's socket_timeout ran out before the layer's own blocking wait did.
                logger.debug("A read of the channel layer timed out; reading again: %s", exc)
                continue
            failed(exc)
            outage = True
            await asyncio.sleep(RETRY_DELAY)


def failed(exc):
    """Note a failed read of the layer; the first of an outage is logged."""
    global _outage_began
    if _outage_began is None:
        _outage_began = time.monotonic()
        logger.error(
            "Cannot read the channel layer (%s). Sockets stay open; this server reads the layer again "
            "every %.0f s and says when it answers.",
            _describe(exc),
            RETRY_DELAY,
        )


def answered():
    """Note that the layer answers again; the end of an outage is logged, with what it cost."""
    global _outage_began
    if _outage_began is not None:
        lasted, _outage_began = time.monotonic() - _outage_began, None
        logger.warning(
            "The channel layer answers this server again after %.1f s of outage. Lost meanwhile: the "
            "notifications and socket requests sent to this server's sockets (the saving processes log "
            "the changes they could not send); the sockets themselves are still open.",
            lasted,
        )


def _is_timeout(exc):
    # redis.exceptions.TimeoutError is no subclass of the built-in one; the core names no layer's classes.
    return isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError"


def _describe(exc):
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
