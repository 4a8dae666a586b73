"""HTTP routes: the live page at /, the GraphQL endpoint (with GraphiQL) at /graphql/."""

from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import path

from graphene_django_subscriptions.views import GraphQLView

from . import views

urlpatterns = [
    path("", views.live_page, name="live"),
    # No csrf_exempt: the view asks for the CSRF token when a request carries the session cookie.
    path("graphql/", GraphQLView.as_view(graphiql=True)),
]
# The page's script and styles, also when a bare ASGI server (not runserver) serves
# the project. Django serves them only while DEBUG is on, as it should.
urlpatterns += staticfiles_urlpatterns()
