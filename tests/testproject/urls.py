"""The example's routes plus test-only endpoints under /testing/."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView as StockGraphQLView

from example.settings import LEGACY
from example.urls import urlpatterns as example_urlpatterns

from . import views

urlpatterns = example_urlpatterns + [
    path("testing/user/", views.create_user),
    path("testing/user/<int:pk>/", views.change_user),
    path("testing/rollback/", views.rollback),
    path("testing/marked-commit/", views.marked_commit),
    path("testing/runs/", views.runs),
    path("testing/streams/<str:app_label>/<str:model_name>/", views.streams),
    path("testing/broadcast/", views.broadcast),
    path("testing/marker/", views.marker),
    path("testing/groups/", views.groups),
    path("testing/login/", views.login),
    path("testing/logout/", views.logout),
    path("testing/password/", views.change_password),
    path("testing/user/<int:pk>/deactivate-quietly/", views.deactivate_quietly),
    path("testing/edit-after-save/", views.edit_after_save),
    path("testing/changes/", views.changes),
    path("testing/filtered/", views.filtered),
    path("testing/filter-routes/<str:stream>/", views.filter_routes),
    path("testing/change-log/", views.change_log),
    path("testing/die-after-commit/", views.die_after_commit),
    path("testing/commit-out-of-order/", views.commit_out_of_order),
    path("testing/token/", views.token),
    path("testing/token/delete/", views.delete_token),
    path("testing/forget-socket/", views.forget_socket),
]

if not LEGACY:
    # graphene-django 3's own view, exempt from CSRF as many projects route it: the
    # subscribe resolver must refuse cross-site requests by itself. (graphene-django 2's
    # own view runs no subscription operations at all.)
    urlpatterns.append(path("testing/stock-graphql/", csrf_exempt(StockGraphQLView.as_view())))
