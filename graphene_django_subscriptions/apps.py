"""Django app configuration."""

from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    """The app that stores which sockets follow which streams."""

    name = "graphene_django_subscriptions"
    verbose_name = "GraphQL subscriptions"
    default_auto_field = "django.db.models.AutoField"
