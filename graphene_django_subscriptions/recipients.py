"""Who a socket belongs to, and who receives a notification.

A socket is recorded with the key of the user who opened it; requests naming
its ``channelId`` must come from that user. A Subscription with a
per-recipient rule files its subscribers' groups under the same keys (the
"audience"), so that a change is checked once per distinct recipient.
"""

import hashlib

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

#: The key of every user who is not logged in.
ANONYMOUS = "anon"


def normalize(user):
    """``user``, or an ``AnonymousUser`` when there is none."""
    return AnonymousUser() if user is None else user


def key_for(user):
    """The key of ``user``: ``"anon"`` for anonymous users, ``"u<pk>"`` for the others."""
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    return f"u{user.pk}"


def password_key(user):
    """A digest of ``user``'s session auth hash, which changes with the password ('' for none).

    Django ends a user's other sessions when the password changes; a socket
    recorded with an older key is closed then (see ``revocation``).
    """
    get_hash = getattr(user, "get_session_auth_hash", None)
    if user is None or not user.is_authenticated or get_hash is None:
        return ""
    return hashlib.sha256(get_hash().encode()).hexdigest()[:32]


def current(user):
    """``user`` as they are now (one query), anonymous users as they are; None once no longer active or gone.

    A socket keeps the user who opened it; each operation on it runs as this
    fresh copy, so a demotion or a deactivation made without a signal
    (``queryset.update()``) holds from the socket's next operation on.
    """
    key = key_for(user)
    if key == ANONYMOUS:
        return normalize(user)
    return users_for([key]).get(key)


def credential_key(credential):
    """What a socket authenticated by ``credential`` (a token) is recorded with: a digest, never the secret.

    Sixty-four characters, so never a session key (Django's have 32).
    """
    return hashlib.sha256(str(credential).encode()).hexdigest()


def is_current(key):
    """Whether the user of ``key`` is anonymous, or still exists and is active: one query for a user."""
    return key == ANONYMOUS or key in users_for([key])


def users_for(keys):
    """``{key: user}`` for ``keys``: one query for the logged-in ones.

    Keys of users who no longer exist or are no longer active are left out:
    nobody receives anything on their behalf.
    """
    users = {}
    named = set()
    for key in keys:
        if key == ANONYMOUS:
            users[key] = AnonymousUser()
        else:
            named.add(key[1:])
    if named:
        model = get_user_model()
        for user in model._default_manager.filter(pk__in=_primary_keys(model, named)):
            if getattr(user, "is_active", True):
                users[key_for(user)] = user
    return users


def _primary_keys(model, texts):
    values = []
    for text in texts:
        try:
            values.append(model._meta.pk.to_python(text))
        except Exception:
            continue  # not a key of today's user model: nobody to deliver to
    return values
