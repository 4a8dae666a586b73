"""``GraphQLView``: graphene-django's view, also running ``subscription { ... }`` over HTTP.

It checks Django's CSRF token on every POST that carries the session cookie,
and on no other: cookie-authenticated browsers are protected, token clients
need no CSRF token (see ``cross_site``). Route it without ``csrf_exempt``.

A subscribe request is answered at once (its notifications come on the
socket), so the view runs the operation's root fields like a query. graphene 3
does that already; graphene 2 refuses subscription operations, so there the
operation is run against a schema whose query root is the subscription root.
"""

import weakref

import graphql
from django.http import HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView as BaseGraphQLView
from graphene_django.views import HttpError

from .cross_site import csrf_failure

GRAPHQL_CORE_2 = graphql.__version__.startswith("2.")

_query_schemas = weakref.WeakKeyDictionary()


def _subscription_as_query(query, operation_name):
    """The document with its subscription operation turned into a query, or None."""
    from graphql.language import ast
    from graphql.language.parser import parse
    from graphql.language.printer import print_ast

    try:
        document = parse(query)
    except Exception:
        return None  # the view reports syntax errors itself
    operations = [d for d in document.definitions if isinstance(d, ast.OperationDefinition)]
    if operation_name:
        chosen = [op for op in operations if op.name and op.name.value == operation_name]
    else:
        chosen = operations if len(operations) == 1 else []
    if len(chosen) != 1 or chosen[0].operation != "subscription":
        return None
    chosen[0].operation = "query"
    document.definitions = [
        d for d in document.definitions if not isinstance(d, ast.OperationDefinition)
    ] + chosen
    return print_ast(document)


def _query_schema(schema):
    derived = _query_schemas.get(schema)
    if derived is None:
        from graphql.type.schema import GraphQLSchema

        derived = GraphQLSchema(
            query=schema.get_subscription_type(),
            types=list(schema.get_type_map().values()),
            directives=schema.get_directives(),
        )
        _query_schemas[schema] = derived
    return derived


class GraphQLView(BaseGraphQLView):
    """Drop-in for graphene-django's ``GraphQLView`` that serves subscribe requests.

    Cookie-authenticated POSTs need Django's CSRF token; others need none.
    """

    @classmethod
    def as_view(cls, **initkwargs):
        # The view checks CSRF itself, for cookie-carrying requests only.
        return csrf_exempt(super().as_view(**initkwargs))

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            reason = csrf_failure(request)
            if reason is not None:
                return JsonResponse({"errors": [{"message": reason}]}, status=403)
        return super().dispatch(request, *args, **kwargs)

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        if GRAPHQL_CORE_2 and query:
            rewritten = _subscription_as_query(query, operation_name)
            if rewritten is not None:
                if request.method.lower() == "get":
                    if show_graphiql:
                        return None
                    raise HttpError(
                        HttpResponseNotAllowed(
                            ["POST"], "Can only perform a subscription operation from a POST request."
                        )
                    )
                # A view instance serves one request, so swapping its schema is safe.
                self.schema = _query_schema(self.schema)
                query = rewritten
        return super().execute_graphql_request(request, data, query, variables, operation_name, show_graphiql)
