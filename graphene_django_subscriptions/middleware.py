"""GraphQL middleware that lets subscription operations return plain results.

graphene 2 wraps resolver results in promises; a subscription request is
answered at once, so its promise is resolved here. On graphene 3 there are no
promises and the middleware passes results through.
"""

try:
    from promise import is_thenable
except ImportError:  # graphene 3 does not install promise

    def is_thenable(value):
        return False


def depromise_subscription(next, root, info, **kwargs):
    """Resolve the promise a subscription field's resolver returned."""
    result = next(root, info, **kwargs)
    if is_thenable(result) and _operation_kind(info) == "subscription":
        return result.get()
    return result


def _operation_kind(info):
    operation = getattr(info.operation, "operation", None)
    return getattr(operation, "value", operation)


class SubscriptionMiddleware:
    """Class form of ``depromise_subscription`` for ``GRAPHENE['MIDDLEWARE']``."""

    def resolve(self, next, root, info, **kwargs):
        return depromise_subscription(next, root, info, **kwargs)
