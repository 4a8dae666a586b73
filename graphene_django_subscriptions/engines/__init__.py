"""The engine adapters: how messages move on the installed version of Channels.

Every engine module offers the same few names:

* ``send_to_groups(messages)``: send ``(group, text)`` pairs;
* ``move_groups(channel_name, moves, text)``: make a socket join and leave
  groups, then send it ``text`` (called from synchronous code, in a transaction);
* ``binding_for(subscription)``: the stream's binding (one per stream);
* ``GraphqlAPIDemultiplexer``: the WebSocket consumer of the 2018 protocol (the
  modern engine's also has ``RecordedSocket``, the base it shares with
  ``graphql_transport_ws.GraphqlWsConsumer``, its graphql-transport-ws consumer);
* ``layer_is_process_local()``: whether the channel layer reaches this process only;
* ``REDIS_LAYER``: the layer that reaches every process, to name in advice.

The core never imports this package: the app's ``ready()`` hands the current
engine to ``transport``, through which the core sends.
"""

from functools import lru_cache
from importlib import import_module


def channels_major_version():
    """The major version of the installed Channels."""
    import channels

    return int(channels.__version__.split(".")[0])


@lru_cache(maxsize=None)
def current():
    """The engine module for the installed Channels (1.x: legacy; 4.x: modern)."""
    major = channels_major_version()
    if major == 1:
        return import_module("graphene_django_subscriptions.engines.legacy")
    if major >= 4:
        return import_module("graphene_django_subscriptions.engines.modern")
    raise ImportError(
        f"graphene-django-subscriptions supports Channels 1.x and 4.x; Channels {major} is installed."
    )
