"""Every declared Subscription, by stream and by model."""

_by_stream = {}


def register(subscription):
    """Record ``subscription`` under its stream; a second class may not take the same stream."""
    stream = subscription._meta.stream
    existing = _by_stream.get(stream)
    if existing is not None and _identity(existing) != _identity(subscription):
        raise ValueError(
            f"{subscription.__name__}.Meta.stream {stream!r} is already used by "
            f"{existing.__module__}.{existing.__name__}: give each Subscription its own stream."
        )
    _by_stream[stream] = subscription


def _identity(cls):
    # The same class imported twice (autoreload, a test runner) is the same subscription.
    return (cls.__module__, cls.__qualname__)


def get(stream):
    """The Subscription serving ``stream``, or None."""
    return _by_stream.get(stream)


def for_model(model):
    """The Subscriptions whose serializer serializes ``model``."""
    return [sub for sub in _by_stream.values() if sub._meta.model is model]


def every():
    """Every registered Subscription, in stream order."""
    return [_by_stream[stream] for stream in sorted(_by_stream)]
