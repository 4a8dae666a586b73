"""A model with a foreign key (scopes across a join, data typed as stored), the tests' markers, and tokens
that end their sockets."""

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from graphene_django_subscriptions import revoke


class Article(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="articles")
    status = models.CharField(max_length=5, choices=[("draft", "Draft"), ("live", "Live")], default="draft")
    published = models.DateTimeField(null=True, blank=True)
    published_on = models.DateField(null=True, blank=True)
    at = models.TimeField(null=True, blank=True)


class Review(models.Model):
    """A row whose reviewer may go: deleting the user sets it to null (``SET_NULL``), an update Django
    makes without a save."""

    title = models.CharField(max_length=100)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )


class Notebook(models.Model):
    title = models.CharField(max_length=100)


class Note(models.Model):
    """A row deleted with its notebook: by the database itself on Django 6.1 (``DB_CASCADE``: no signal, no
    collector), by Django's collector before (``CASCADE``)."""

    notebook = models.ForeignKey(
        Notebook, on_delete=getattr(models, "DB_CASCADE", models.CASCADE), related_name="notes"
    )
    text = models.CharField(max_length=100)


class Bookmark(models.Model):
    """A row whose notebook may go: the database sets it to null on Django 6.1 (``DB_SET_NULL``: no signal,
    no collector), Django's collector before (``SET_NULL``)."""

    notebook = models.ForeignKey(
        Notebook,
        null=True,
        on_delete=getattr(models, "DB_SET_NULL", models.SET_NULL),
        related_name="bookmarks",
    )
    page = models.PositiveIntegerField()


class Marker(models.Model):
    """A row only ``client.assert_nothing_more`` creates: its notification proves what came before it."""

    label = models.CharField(max_length=40)


@receiver(post_delete, sender=Token)
def close_the_sockets_of_a_deleted_token(sender, instance, using=None, **kwargs):
    revoke(instance.key, using=using)
