"""The test project on the Redis layer, its host given as a bare URL (redis-py's default timeouts)."""

from testproject.settings import *  # noqa: F403
from testproject.settings import CHANNEL_LAYERS, LEGACY

if not LEGACY:
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
    ]
