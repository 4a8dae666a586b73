"""ASGI application of the test project (modern engine)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from graphene_django_subscriptions import BrowserOriginValidator, GraphqlWsConsumer  # noqa: E402

from .consumers import (  # noqa: E402
    FaultyGraphqlWsConsumer,
    HoldingGraphqlWsConsumer,
    ShallowGraphqlWsConsumer,
    SlowToAuthenticateGraphqlWsConsumer,
    SlowToCloseDemultiplexer,
    TestDemultiplexer,
    TokenGraphqlWsConsumer,
)

websocket_routes = [
    path("subscriptions/", TestDemultiplexer.as_asgi()),
    path("subscriptions-slow/", SlowToCloseDemultiplexer.as_asgi()),
    path("graphql/", GraphqlWsConsumer.as_asgi()),
    path("graphql-token/", TokenGraphqlWsConsumer.as_asgi()),
    path("graphql-shallow/", ShallowGraphqlWsConsumer.as_asgi()),
    path("graphql-faulty/", FaultyGraphqlWsConsumer.as_asgi()),
    path("graphql-holding/", HoldingGraphqlWsConsumer.as_asgi()),
    path("graphql-slow-to-authenticate/", SlowToAuthenticateGraphqlWsConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(AuthMiddlewareStack(URLRouter(websocket_routes))),
    }
)
