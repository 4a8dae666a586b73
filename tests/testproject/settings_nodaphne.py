"""The test project without the ``daphne`` app: ``runserver`` serves no WebSockets (check W002)."""

from testproject.settings import *  # noqa: F403
from testproject.settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "daphne"]
# Set on both engines, so the legacy one shows that the check is for Channels 4 only.
ASGI_APPLICATION = "testproject.asgi.application"
