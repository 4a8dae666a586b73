"""Who may subscribe: channels-api style permission classes for ``Meta.permission_classes``."""


class BasePermission:
    """Override ``has_permission``; it is asked once per action a subscribe request names."""

    #: The sentence a refused client reads; ``{action}`` and ``{stream}`` are filled in.
    message = "Permission denied: you may not subscribe to {action} on stream {stream!r}."

    def has_permission(self, user, action, pk):
        """Return True when ``user`` may follow ``action`` changes of object ``pk`` (None: all)."""
        raise NotImplementedError


class AllowAny(BasePermission):
    """Anyone may subscribe (the default)."""

    def has_permission(self, user, action, pk):
        return True


class IsAuthenticated(BasePermission):
    """Only logged-in users may subscribe."""

    message = "Permission denied: log in to subscribe to {action} on stream {stream!r}."

    def has_permission(self, user, action, pk):
        return bool(user is not None and user.is_authenticated)
