"""The superuser the tests act as by token (testproject.middleware): "admin", with no password."""

from django.contrib.auth.hashers import make_password
from django.db import migrations


def make_admin(apps, schema_editor):
    User = apps.get_model("auth", "User")
    User.objects.create(username="admin", is_superuser=True, is_staff=True, password=make_password(None))


class Migration(migrations.Migration):
    dependencies = [("testproject", "0001_initial"), ("auth", "0001_initial")]

    operations = [migrations.RunPython(make_admin, migrations.RunPython.noop)]
