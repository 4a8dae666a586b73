"""HTTP routes: the live page at /, the GraphQL endpoint (with GraphiQL) at /graphql/."""

from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from graphene_django_subscriptions.views import GraphQLView

from . import views

urlpatterns = [
    path("", views.live_page, name="live"),
    path("graphql/", csrf_exempt(GraphQLView.as_view(graphiql=True))),
]
# The page's script and styles, also when a bare ASGI server (not runserver) serves
# the project. Django serves them only while DEBUG is on, as it should.
urlpatterns += staticfiles_urlpatterns()
