"""The test project's ASGI application without ``AllowedHostsOriginValidator`` (check W005)."""

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from graphene_django_subscriptions import GraphqlWsConsumer

from .asgi import django_asgi_app
from .consumers import TestDemultiplexer

routes = [path("subscriptions/", TestDemultiplexer.as_asgi()), path("graphql/", GraphqlWsConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter(routes)),
    }
)
