"""The test project with its sockets routed without an origin check (check W005)."""

from testproject.settings import *  # noqa: F403

# Set on both engines, so the legacy one shows that the check is for Channels 4 only.
ASGI_APPLICATION = "testproject.asgi_noorigin.application"
