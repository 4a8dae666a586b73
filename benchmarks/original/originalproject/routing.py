"""Channels 1 routing: the 0.0.9 demultiplexer at /subscriptions/, as its README routes it."""

from channels.routing import include, route_class

from graphene_django_subscriptions import GraphqlAPIDemultiplexer

from .subscriptions import UserSubscription


class CustomAppDemultiplexer(GraphqlAPIDemultiplexer):
    consumers = {"users": UserSubscription.get_binding().consumer}


app_routing = [route_class(CustomAppDemultiplexer, path=r"^/$")]

project_routing = [include(app_routing, path=r"^/subscriptions")]
