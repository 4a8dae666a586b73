"""HTTP routes: the GraphQL endpoint at /graphql/."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from .views import GraphQLView

urlpatterns = [
    # Exempt, as graphene-django's docs route it: the benchmark's clients send no CSRF token.
    path("graphql/", csrf_exempt(GraphQLView.as_view(graphiql=True))),
]
