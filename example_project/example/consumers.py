"""The WebSocket consumer: one socket carries every stream."""

from graphene_django_subscriptions import GraphqlAPIDemultiplexer

from .subscriptions import GroupSubscription, UserSubscription


class CustomAppDemultiplexer(GraphqlAPIDemultiplexer):
    consumers = {
        "users": UserSubscription.get_binding().consumer,
        "groups": GroupSubscription.get_binding().consumer,
    }
