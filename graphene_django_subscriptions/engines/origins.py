"""``BrowserOriginValidator`` (modern engine): the origin rule of ``origins`` as ASGI middleware."""

from channels.security.websocket import OriginValidator, WebsocketDenier

from .. import origins


class BrowserOriginValidator(OriginValidator):
    """Refuse sockets that browsers open from other sites' pages; serve clients that are not browsers.

    Wrap the websocket application with it, as with Channels'
    ``AllowedHostsOriginValidator``: ``BrowserOriginValidator(AuthMiddlewareStack(URLRouter([...])))``.
    Unlike that one, it serves a socket that sends no ``Origin`` and no cookie
    (a mobile app, Node, a script: they authenticate with a token, or not at
    all). Each refusal is logged with its reason.
    """

    def __init__(self, application):
        super().__init__(application, allowed_origins=())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("BrowserOriginValidator wraps the websocket application only.")
        if not origins.refused(scope.get("headers", ()), scope.get("path", "")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
