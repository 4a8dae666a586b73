"""Streams on both engines: one binding class per stream, and the check of a demultiplexer's ``consumers``."""


class Bindings:
    """Makes and keeps the one binding class of each stream, a subclass of the engine's ``base``.

    Each binding has its ``subscription``, ``stream``, ``model`` and
    ``serializer_class``; ``extra(subscription)`` gives whatever else the engine's
    binding needs. A stream whose Subscription class was replaced (a reload, a
    test) gets a new binding.
    """

    def __init__(self, base, extra=lambda subscription: {}):
        self.base = base
        self._extra = extra
        self._made = {}

    def __call__(self, subscription):
        """The one binding of ``subscription``'s stream."""
        stream = subscription._meta.stream
        binding = self._made.get(stream)
        if binding is None or binding.subscription is not subscription:
            binding = self._made[stream] = type(
                f"{subscription.__name__}Binding",
                (self.base,),
                {
                    "__module__": self.base.__module__,
                    "subscription": subscription,
                    "stream": stream,
                    "model": subscription._meta.model,
                    "serializer_class": subscription._meta.serializer_class,
                    **self._extra(subscription),
                },
            )
        return binding

    def made(self, candidate):
        """Whether ``candidate`` is a stream's binding of this engine."""
        return (
            isinstance(candidate, type)
            and issubclass(candidate, self.base)
            and candidate.subscription is not None
        )


def check_consumers(demultiplexer, is_binding):
    """Fail at class creation when ``consumers`` maps a stream to the wrong binding."""
    consumers = demultiplexer.__dict__.get("consumers")
    if consumers is None:
        return
    name = demultiplexer.__name__
    if not isinstance(consumers, dict):
        raise TypeError(f"{name}.consumers must be a dict of stream name to binding consumer.")
    for stream, consumer in consumers.items():
        binding = getattr(consumer, "__self__", None)
        if not is_binding(binding):
            raise TypeError(
                f"{name}.consumers[{stream!r}] must be a Subscription's binding consumer, "
                f"e.g. UserSubscription.get_binding().consumer (got {consumer!r})."
            )
        expected = binding.subscription._meta.stream
        if stream != expected:
            raise TypeError(
                f"{name}.consumers maps {stream!r} to {binding.subscription.__name__}, whose "
                f"stream is {expected!r}: use the key {expected!r}."
            )
