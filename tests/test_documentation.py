"""Set-up snippets of the documentation that both engines share, run as a user would paste them (in process).

The set-up files themselves (subscriptions, schema, consumers, routing) are the example
project's, included in the pages, and every server of the suite runs them.
"""

from django.conf import settings
from django.urls import resolve

from graphene_django_subscriptions.views import GraphQLView
from support.docs import snippet
from support.servers import LEGACY


def test_the_documented_installed_apps_are_the_ones_the_suite_runs_with():
    text = snippet("Add the apps to ``INSTALLED_APPS``::")
    namespace = {}
    exec(text, namespace)  # "..." stands for the project's own apps: Python reads it as Ellipsis
    apps = [app for app in namespace["INSTALLED_APPS"] if isinstance(app, str)]
    assert apps == [
        "daphne",
        "rest_framework",
        "graphene_django",
        "channels",
        "graphene_django_subscriptions",
    ]
    if LEGACY:
        assert '# "channels_api",' in text and "channels_api" in settings.INSTALLED_APPS
        apps.remove("daphne")  # modern engine only, as its comment says
    else:
        assert settings.INSTALLED_APPS[0] == "daphne"
    assert [app for app in apps if app not in settings.INSTALLED_APPS] == []


def test_the_documented_url_serves_graphql_with_the_packages_view():
    namespace = {}
    exec(snippet("middleware::"), namespace)
    match = resolve("/graphql/", urlconf=type("urls", (), {"urlpatterns": namespace["urlpatterns"]}))
    assert match.func.view_class is GraphQLView
    assert match.func.view_initkwargs == {"graphiql": True}
