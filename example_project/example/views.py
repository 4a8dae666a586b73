"""The live page: a browser client for trying the notifications by hand."""

from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from graphene.utils.str_converters import to_camel_case

from graphene_django_subscriptions import Subscription

from .schema import RootQuery, RootSubscription
from .settings import LEGACY


def stream_choices():
    """What the page offers to follow: one entry per 2018-protocol field of the root schema.

    Each entry lists the stream's filter arguments (``filters``). On the modern
    engine each entry also names the stream's ``ChangesField``
    (``changesField``), its data fields (``dataFields``, by 2018 field name) and
    its cursor query field (``cursorField``), for the page's graphql-transport-ws mode.
    """
    fields = RootSubscription._meta.fields.items()
    cursor_fields = {
        field.resolver.__self__: to_camel_case(name)
        for name, field in RootQuery._meta.fields.items()
        if getattr(field.resolver, "__func__", None) is Subscription.resolve_cursor.__func__
    }
    changes_fields = {
        field.resolver.subscription: to_camel_case(name)
        for name, field in fields
        if hasattr(field.resolver, "subscription")
    }
    choices = []
    for name, field in fields:
        if not (isinstance(field.type, type) and issubclass(field.type, Subscription)):
            continue  # a ChangesField: listed with its stream's entry
        options = field.type._meta
        choice = {
            "stream": options.stream,
            "field": to_camel_case(name),
            "model": options.model_label,
            "fields": [field_name.upper() for field_name in options.catalog.names],
            # Its filter arguments, as clients write them (``name_Startswith``).
            "filters": [to_camel_case(name) for name in options.filters.parts] if options.filters else [],
        }
        if field.type in changes_fields:
            choice["changesField"] = changes_fields[field.type]
            choice["dataFields"] = {f.upper(): to_camel_case(f) for f in options.catalog.names}
            choice["cursorField"] = cursor_fields.get(field.type)
        choices.append(choice)
    return choices


@ensure_csrf_cookie
def live_page(request):
    """Serve the page; its script reads the streams from the ``gds-config`` JSON block.

    The page sends the csrftoken cookie back as X-CSRFToken on its GraphQL requests.
    """
    config = {
        "streams": stream_choices(),
        "graphql": "/graphql/",
        "socketPath": "/subscriptions/",
        # graphql-transport-ws (see asgi.py): the modern engine's.
        "standardPath": None if LEGACY else "/graphql/",
    }
    return render(request, "example/live.html", {"config": config})
