"""The two wire protocols, apart from any engine.

``graphql_transport_ws``: the standard protocol (``GraphqlWsConsumer``); ``channels_api``: the 2018
one (``GraphqlAPIDemultiplexer``: channels-api's stream frames, subscribe requests that carry a
``channelId``); ``common``: what both say about actions, refusals and ids.
"""
