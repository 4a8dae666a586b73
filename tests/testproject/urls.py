"""The example's routes plus test-only endpoints under /testing/."""

from django.urls import path

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
    path("testing/groups/", views.groups),
    path("testing/login/", views.login),
]
