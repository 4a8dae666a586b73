"""HTTP routes: the live page at /, logging in and out, the GraphQL endpoint (with GraphiQL) at /graphql/."""

from django.contrib.auth.views import LoginView, LogoutView
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import path

from graphene_django_subscriptions.views import GraphQLView

from . import views
from .settings import LEGACY


class LocalGraphiQLView(GraphQLView):
    """GraphiQL from the project's own static files (scripts/install-js.sh), no CDN, its
    subscriptions over the graphql-transport-ws socket (GraphqlWsConsumer).

    A class attribute: graphene-django's ``__init__`` takes no ``graphiql_template``, so
    ``as_view(graphiql_template=...)`` would fail at the first request.
    """

    graphiql_template = "example/graphiql.html"


urlpatterns = [
    path("", views.live_page, name="live"),
    # Changing users and groups needs a user with permission (mutations.py): log in here.
    path("login/", LoginView.as_view(template_name="example/login.html"), name="login"),
    path("logout/", LogoutView.as_view(next_page="/"), name="logout"),
    # No csrf_exempt: the view asks for the CSRF token when a request carries the session cookie.
    # Channels 1 has no GraphqlWsConsumer for the page's subscriptions: the stock GraphiQL stays there.
    path("graphql/", (GraphQLView if LEGACY else LocalGraphiQLView).as_view(graphiql=True)),
]
# The page's script and styles, also when a bare ASGI server (not runserver) serves
# the project. Django serves them only while DEBUG is on, as it should.
urlpatterns += staticfiles_urlpatterns()
