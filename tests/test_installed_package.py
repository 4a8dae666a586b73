"""The suite tests the package as users get it: the installed wheel, never the checkout's source."""

import json
from pathlib import Path

import graphene_django_subscriptions
from support.servers import LEGACY, ROOT, django_admin

SOURCE = ROOT / "graphene_django_subscriptions"
WHERE = (
    "import json, graphene_django_subscriptions as package, example; "
    "print(json.dumps([package.__file__, example.__file__]))"
)


def test_the_tests_import_the_installed_package():
    installed = Path(graphene_django_subscriptions.__file__).resolve()
    assert installed.parent != SOURCE and "site-packages" in installed.parts, installed


def test_the_servers_run_the_installed_package_and_the_example_from_the_checkout(server):
    package, example = json.loads(django_admin(server.env, "shell", "-c", WHERE).stdout.splitlines()[-1])
    installed = Path(package).resolve()
    assert installed.parent != SOURCE and "site-packages" in installed.parts, installed
    # The example project is not part of the package: it comes from the checkout.
    assert Path(example).resolve().parent == ROOT / "example_project" / "example"


STAR = (
    "import json; namespace = {}; exec('from graphene_django_subscriptions import *', namespace); "
    "print(json.dumps(sorted(name for name in namespace if name != '__builtins__')))"
)


def test_a_star_import_gives_the_public_names_of_the_engine(server):
    names = json.loads(django_admin(server.env, "shell", "-c", STAR).stdout.splitlines()[-1])
    # graphql-transport-ws and ASGI middleware need Channels 4
    standard = [] if LEGACY else ["BrowserOriginValidator", "GraphqlWsConsumer"]
    expected = [
        "GraphqlAPIDemultiplexer",
        "ReportDatabaseWrites",
        "Subscription",
        "SubscriptionMiddleware",
        "depromise_subscription",
        "revoke",
    ]
    assert names == sorted(expected + standard)


#: Every import path the documentation gives, and those of the 2018 package (0.0.9), by engine.
PATHS = [
    "graphene_django_subscriptions.subscription.Subscription",  # 2018
    "graphene_django_subscriptions.consumers.GraphqlAPIDemultiplexer",  # 2018
    "graphene_django_subscriptions.middleware.SubscriptionMiddleware",  # 2018
    "graphene_django_subscriptions.depromise_subscription",  # 2018, GRAPHENE["MIDDLEWARE"]
    "graphene_django_subscriptions.views.GraphQLView",
    "graphene_django_subscriptions.permissions.AllowAny",
    "graphene_django_subscriptions.permissions.IsAuthenticated",
    "graphene_django_subscriptions.close_codes.CloseCode",
    "graphene_django_subscriptions.revoke",
    "graphene_django_subscriptions.ReportDatabaseWrites",
    "graphene_django_subscriptions.database_writes.install",
]
MODERN_PATHS = [
    "graphene_django_subscriptions.consumers.GraphqlWsConsumer",
    "graphene_django_subscriptions.BrowserOriginValidator",
    "graphene_django_subscriptions.testing.GraphqlWsCommunicator",
]
# A loop, not a comprehension: Django 2.2's ``shell -c`` runs the code in a function's scope.
RESOLVE = (
    "import json; from django.utils.module_loading import import_string; unresolved = []\n"
    "for path in %s:\n    callable(import_string(path)) or unresolved.append(path)\n"
    "print(json.dumps(unresolved))"
)


def test_the_documented_and_the_2018_import_paths_resolve(server):
    paths = PATHS + ([] if LEGACY else MODERN_PATHS)
    unresolved = django_admin(server.env, "shell", "-c", RESOLVE % json.dumps(paths)).stdout.splitlines()[-1]
    assert json.loads(unresolved) == []
