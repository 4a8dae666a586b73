"""The WebSocket consumers: ``GraphqlAPIDemultiplexer`` (the 2018 protocol) and ``GraphqlWsConsumer``.

``GraphqlWsConsumer`` speaks graphql-transport-ws and needs the modern engine
(Channels 4); the legacy engine serves the 2018 protocol only.
"""

from importlib import import_module

from .engines import channels_major_version, current

GraphqlAPIDemultiplexer = current().GraphqlAPIDemultiplexer

__all__ = ["GraphqlAPIDemultiplexer", "GraphqlWsConsumer"]  # noqa: F822 (see __getattr__)


def __getattr__(name):
    if name != "GraphqlWsConsumer":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if channels_major_version() < 4:
        raise ImportError(
            "GraphqlWsConsumer (graphql-transport-ws) needs Channels 4; on Channels 1 the package serves the "
            "2018 channelId protocol only (GraphqlAPIDemultiplexer)."
        )
    return import_module("graphene_django_subscriptions.engines.graphql_transport_ws").GraphqlWsConsumer
