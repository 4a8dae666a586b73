"""What a client has sent that its consumer has not handled yet (modern engine, on daphne).

daphne reads every socket as fast as its client writes, parses the frames and
queues them for the consumer without bound. A client that sends faster than
its consumer handles (a flood of small frames, or large ones) fills the
server's memory, and the reading and parsing take the event loop from every
other socket. So once a socket's queue holds ``MAX_QUEUED_BYTES_PER_SOCKET``,
the package stops reading it until the consumer has handled half: the client
meets TCP's own back-pressure, and nothing it sent is lost or refused.
Other ASGI servers hand the application no queue the package can see.
"""

import asyncio

from .. import app_settings

#: What one queued message costs besides its text: daphne's dict and strings, the queue's slot.
MESSAGE_OVERHEAD = 256


def _size(message):
    return len(message.get("text") or message.get("bytes") or "") + MESSAGE_OVERHEAD


class BoundedInbound:
    """``receive`` for a consumer, over daphne's queue, that pauses the socket's reading past the bound."""

    def __init__(self, queue, transport):
        self._queue = queue
        self._transport = transport
        self._bytes = 0
        self.paused = False
        put = queue.put_nowait

        def put_nowait(message):
            put(message)
            self._bytes += _size(message)
            if not self.paused and self._bytes >= app_settings.get("MAX_QUEUED_BYTES_PER_SOCKET"):
                self.paused = True
                transport.pauseProducing()

        # daphne puts each message it reads with put_nowait (ws_protocol.WebSocketProtocol).
        queue.put_nowait = put_nowait

    async def receive(self):
        """The next message the client sent; reading resumes once half the bound is handled."""
        message = await self._queue.get()
        self._bytes -= _size(message)
        if self.paused and self._bytes <= app_settings.get("MAX_QUEUED_BYTES_PER_SOCKET") // 2:
            self.paused = False
            self._transport.resumeProducing()
        return message


def bounded(receive, transport):
    """``receive`` bounded as above when it is daphne's queue and ``transport`` is known; else ``receive``."""
    queue = getattr(receive, "__self__", None)
    if (
        not isinstance(queue, asyncio.Queue)
        or receive != queue.get
        or not hasattr(transport, "pauseProducing")
    ):
        return receive
    return BoundedInbound(queue, transport).receive
