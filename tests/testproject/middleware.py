"""A stand-in for token authentication (DRF tokens, JWT): ``Authorization: Token <username>``.

Test-only and trusting: it shows that clients which authenticate without
cookies need no CSRF token.
"""

from django.contrib.auth.models import User


class HeaderTokenMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Token "):
            request.user = User.objects.get(username=header[len("Token ") :])
        return self.get_response(request)
