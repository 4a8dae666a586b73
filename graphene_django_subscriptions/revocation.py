"""Access ends with the session: the events that close a socket, in every process.

A socket is authorized by the user who opened it. When the session it was
opened with logs out or is deleted (another user logging in on that browser,
``clearsessions``, an admin; database-backed sessions only), when its user's
password changes (Django ends the user's other sessions then), or when the
user is deactivated or deleted, the socket's records go at once (so its
``channelId`` names nothing), and its consumer, in whichever process holds it,
leaves its groups and closes the socket with ``CloseCode.UNAUTHORIZED``.
"""

import logging

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from . import recipients, transport
from .close_codes import CloseCode
from .models import SubscriberSocket
from .sockets import forget

logger = logging.getLogger(__name__)


def connect_signals():
    """Watch logouts and the user model; the app's ``ready()`` calls it once."""
    user_model = get_user_model()
    uid = "graphene_django_subscriptions.revocation"
    user_logged_out.connect(_logged_out, dispatch_uid=uid)
    post_save.connect(_user_saved, sender=user_model, weak=False, dispatch_uid=uid)
    post_delete.connect(_user_deleted, sender=user_model, weak=False, dispatch_uid=uid)
    if apps.is_installed("django.contrib.sessions"):
        from django.contrib.sessions.models import Session

        post_delete.connect(_session_deleted, sender=Session, weak=False, dispatch_uid=uid)


def revoke(credential, using=None):
    """Close every socket that ``credential`` authenticated, in every process, once the transaction commits.

    Call it when a token a ``GraphqlWsConsumer.authenticate`` accepted ends
    (deleted, expired): the sockets it opened close with ``CloseCode.UNAUTHORIZED``.
    """
    sockets = SubscriberSocket.objects.filter(session_key=recipients.credential_key(credential))
    _close_after_commit(sockets, "their credential was revoked", using)


def close_sockets(sockets, reason):
    """Forget the ``sockets`` queryset and close each of them; return how many were closed."""
    closing = forget(sockets)
    if closing:
        transport.close_sockets(closing, CloseCode.UNAUTHORIZED)
        logger.info("Closed %d socket(s): %s.", len(closing), reason)
    return len(closing)


def _safely(function, *args):
    # Logging out or saving a user must never fail because of sockets.
    try:
        function(*args)
    except Exception:
        logger.exception("Could not close the sockets of a user whose access ended")


def _logged_out(sender, request=None, user=None, **kwargs):
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if session_key:
        sockets = SubscriberSocket.objects.filter(session_key=session_key)
    elif user is not None:
        # No session to go by: every socket of the user.
        sockets = SubscriberSocket.objects.filter(user_key=recipients.key_for(user))
    else:
        return
    _safely(close_sockets, sockets, "their session logged out")


def _session_deleted(sender, instance, using=None, **kwargs):
    sockets = SubscriberSocket.objects.filter(session_key=instance.session_key)
    _close_after_commit(sockets, "their session was deleted", using)


def _user_saved(sender, instance, raw=False, using=None, **kwargs):
    if raw:
        return
    sockets = SubscriberSocket.objects.filter(user_key=recipients.key_for(instance))
    if not getattr(instance, "is_active", True):
        _close_after_commit(sockets, "their user was deactivated", using)
        return
    # Opened before the password changed; one indexed update when none was.
    stale = sockets.exclude(password_key__in=("", recipients.password_key(instance)))
    _close_after_commit(stale, "their user's password changed", using)


def _user_deleted(sender, instance, using=None, **kwargs):
    sockets = SubscriberSocket.objects.filter(user_key=recipients.key_for(instance))
    _close_after_commit(sockets, "their user was deleted", using)


def _close_after_commit(sockets, reason, using):
    # A rolled-back change ends nobody's access.
    transaction.on_commit(lambda: _safely(close_sockets, sockets, reason), using=using)
