"""``manage.py demo_admin``: a superuser to try the example's mutations with, and a new password for it."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "admin"


class Command(BaseCommand):
    help = "Make the superuser 'admin' (or give it a new password) and print how to log in."

    def handle(self, *args, **options):
        user, _ = get_user_model()._default_manager.get_or_create(username=USERNAME)
        password = secrets.token_urlsafe(9)
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"To change users and groups, log in at /login/ as {USERNAME}, password {password}")
