"""The test project with no channel layer configured (modern engine: daphne starts without one)."""

from testproject.settings import *  # noqa: F403

CHANNEL_LAYERS = {}
