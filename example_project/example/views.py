"""The live page: a browser client for trying the notifications by hand."""

from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from graphene.utils.str_converters import to_camel_case

from graphene_django_subscriptions import Subscription

from .schema import RootSubscription


def stream_choices():
    """What the page offers to follow: one entry per 2018-protocol field of the root schema."""
    choices = []
    for name, field in RootSubscription._meta.fields.items():
        if not (isinstance(field.type, type) and issubclass(field.type, Subscription)):
            continue  # a ChangesField: the standard protocol's, not the page's
        options = field.type._meta
        choices.append(
            {
                "stream": options.stream,
                "field": to_camel_case(name),
                "model": options.model_label,
                "fields": [field_name.upper() for field_name in options.catalog.names],
            }
        )
    return choices


@ensure_csrf_cookie
def live_page(request):
    """Serve the page; its script reads the streams from the ``gds-config`` JSON block.

    The page sends the csrftoken cookie back as X-CSRFToken on its GraphQL requests.
    """
    config = {"streams": stream_choices(), "graphql": "/graphql/", "socketPath": "/subscriptions/"}
    return render(request, "example/live.html", {"config": config})
