"""ASGI entry point (modern engine): HTTP through Django, WebSockets to the demultiplexer.

Sockets from pages of other sites are refused (``AllowedHostsOriginValidator``):
a browser sends the visitor's cookies with any socket, whichever page opens it.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from .consumers import CustomAppDemultiplexer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("subscriptions/", CustomAppDemultiplexer.as_asgi())]))
        ),
    }
)
