"""ASGI entry point (modern engine): HTTP through Django, WebSockets to the two consumers.

``subscriptions/`` speaks the 2018 channelId protocol, ``graphql/`` the
standard graphql-transport-ws (Apollo Client, urql, graphql-ws, GraphiQL).

Sockets from pages of other sites are refused (``BrowserOriginValidator``):
a browser sends the visitor's cookies with any socket, whichever page opens it.
Clients that are not browsers (no Origin, no cookies: mobile apps, Node) connect.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from graphene_django_subscriptions import BrowserOriginValidator, GraphqlWsConsumer  # noqa: E402

from .consumers import CustomAppDemultiplexer  # noqa: E402

websocket_routes = [
    path("subscriptions/", CustomAppDemultiplexer.as_asgi()),
    path("graphql/", GraphqlWsConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(AuthMiddlewareStack(URLRouter(websocket_routes))),
    }
)
