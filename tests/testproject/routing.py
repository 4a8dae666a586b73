"""Channels 1.x routing of the test project."""

from channels.routing import include, route_class

from .consumers import TestDemultiplexer

channel_routing = [include([route_class(TestDemultiplexer, path=r"^/$")], path=r"^/subscriptions")]
