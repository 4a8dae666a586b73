"""Subscribe requests over HTTP that another site's page could have sent are refused.

A page on another site can make the victim's browser POST a form or
``text/plain`` body, with the victim's cookies, without asking anybody. It
cannot send ``application/json`` or ``application/graphql`` without a CORS
preflight, nor read the victim's CSRF token. So a subscribe request must be a
POST of one of those two types, and when it carries the session cookie it
must also carry Django's CSRF token (as DRF requires for session
authentication). Requests without the session cookie (token clients) need no
CSRF token: a foreign page cannot make a browser attach their credentials.
"""

import logging

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

logger = logging.getLogger(__name__)

#: The request bodies a browser only sends cross-site after a CORS preflight.
ACCEPTED_TYPES = ("application/json", "application/graphql")
CSRF_REFUSED = (
    "CSRF check failed: a request that carries the session cookie must send Django's CSRF token "
    "in the X-CSRFToken header (read it from the csrftoken cookie)."
)
NOT_JSON = (
    "Subscribe and unsubscribe requests must be POSTed as application/json (or application/graphql): "
    "a form, text/plain or GET request could have been sent by another site's page."
)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def _no_response(request):  # CsrfViewMiddleware wants a get_response; the check never calls it
    raise AssertionError("unreachable")


def csrf_failure(request):
    """Why ``request`` fails Django's CSRF check when it carries the session cookie, or None."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES or getattr(request, "_gds_csrf_passed", False):
        return None
    check = _CsrfCheck(_no_response)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason is None:
        request._gds_csrf_passed = True
        return None
    # Django's own reason varies between versions and says nothing of the fix.
    logger.info("Refused a request that failed the CSRF check: %s", reason)
    return CSRF_REFUSED


def refusal(request):
    """The error sentence for a subscribe request that must be refused, or None.

    ``request`` is the GraphQL context; anything but a Django ``HttpRequest``
    (a schema executed in Python) is not a cross-site request.
    """
    if not isinstance(request, HttpRequest):
        return None
    if request.method != "POST" or request.content_type not in ACCEPTED_TYPES:
        return NOT_JSON
    return csrf_failure(request)
