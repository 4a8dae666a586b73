"""ASGI application of the benchmarks' project (modern engine): the example's socket and the yardsticks'.

``subscriptions/`` is the example's own demultiplexer, ``graphql/`` its
graphql-transport-ws consumer; ``standard/`` is the
standard Channels 4 consumer (standard.py); ``dcrf/`` and ``dcrf-instance/`` are
djangochannelsrestframework's (dcrf.py), routed only when ``GDS_BENCH_DCRF`` is
set, since only its own venv has DCRF.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings_bench")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from example.consumers import CustomAppDemultiplexer  # noqa: E402
from graphene_django_subscriptions import BrowserOriginValidator, GraphqlWsConsumer  # noqa: E402

from .standard import StandardConsumer  # noqa: E402

websocket_routes = [
    path("subscriptions/", CustomAppDemultiplexer.as_asgi()),
    path("graphql/", GraphqlWsConsumer.as_asgi()),
    path("standard/", StandardConsumer.as_asgi()),
]
if os.environ.get("GDS_BENCH_DCRF"):
    from .dcrf import DcrfConsumer, DcrfInstanceConsumer

    websocket_routes += [
        path("dcrf/", DcrfConsumer.as_asgi()),
        path("dcrf-instance/", DcrfInstanceConsumer.as_asgi()),
    ]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(AuthMiddlewareStack(URLRouter(websocket_routes))),
    }
)
