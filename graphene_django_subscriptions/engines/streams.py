"""What both engines' demultiplexers check about their ``consumers`` mapping."""


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
