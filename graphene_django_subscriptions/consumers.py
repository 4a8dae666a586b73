"""``GraphqlAPIDemultiplexer``, the WebSocket consumer of the installed engine."""

from .engines import current

GraphqlAPIDemultiplexer = current().GraphqlAPIDemultiplexer

__all__ = ["GraphqlAPIDemultiplexer"]
