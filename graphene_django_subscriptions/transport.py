"""The engine's few operations, as the core sees them: handed over at start-up, never imported.

The core (``notifications``, ``subscribe_requests``, ``revocation``) moves messages only
through these names, so it does not know which engine runs it. The app's
``ready()`` installs the engine of the installed Channels (see ``engines``).
"""

from django.core.exceptions import ImproperlyConfigured

_engine = None


def install(engine):
    """Route the operations below to ``engine`` (a module of ``engines``)."""
    global _engine
    _engine = engine


def _installed():
    if _engine is None:
        raise ImproperlyConfigured(
            "graphene_django_subscriptions has no engine yet: add it to INSTALLED_APPS and let Django "
            "set up (django.setup()) before saving followed objects or serving sockets."
        )
    return _engine


def send_to_groups(messages, once=False):
    """Send ``(group, text)`` pairs on the channel layer; ``once``: a socket (or graphql-transport-ws
    operation) in several of the groups gets one text, not one per group."""
    _installed().send_to_groups(messages, once)


def delivers_from_log():
    """Whether server processes deliver logged changes from the change log (``wake_servers`` tells them)."""
    return _installed().delivers_from_log()


def wake_servers():
    """Tell every server process that changes were committed to the change log; return True (sent)."""
    return _installed().wake_servers()


def move_groups(channel_name, moves, text):
    """Make a socket leave and join groups (``moves.leave``, ``moves.join``), then send it ``text``."""
    _installed().move_groups(channel_name, moves, text)


def close_sockets(closing, code):
    """Close sockets (``{channel_name: groups they are in}``) with ``code``, after they leave their groups."""
    _installed().close_sockets(closing, code)


def layer_is_process_local():
    """Whether the channel layer reaches this process's sockets only."""
    return _installed().layer_is_process_local()


def redis_layer():
    """The channel layer that reaches every process, to name in advice."""
    return _installed().REDIS_LAYER
