"""Channels 1.x routing (legacy engine); Channels 4 uses ``asgi.py`` instead."""

from channels.routing import include, route_class

from .consumers import CustomAppDemultiplexer

app_routing = [route_class(CustomAppDemultiplexer, path=r"^/$")]

channel_routing = [include(app_routing, path=r"^/subscriptions")]
