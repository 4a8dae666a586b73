"""Sphinx configuration of the documentation site (``tox -e docs`` builds it, warnings as errors)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

project = "graphene-django-subscriptions"
author = "the graphene-django-subscriptions authors"
copyright = "2026, " + author
# One version, read from the package without importing it (importing needs Django's settings).
release = re.search(
    r'^__version__ = "([^"]+)"', (ROOT / "graphene_django_subscriptions" / "__init__.py").read_text(), re.M
).group(1)
version = release

root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {
    "description": "Live model changes for graphene-django, over WebSockets",
    "fixed_sidebar": True,
    # Code lines of up to 110 characters (the project's line length) fit without scrolling.
    "page_width": "1180px",
}
# Literal blocks hold Python, JavaScript, JSON, nginx and shell lines side by side: highlight none.
highlight_language = "none"
