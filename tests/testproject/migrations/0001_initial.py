from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="Article",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("title", models.CharField(max_length=100)),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=models.CASCADE, related_name="articles", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("draft", "Draft"), ("live", "Live")], default="draft", max_length=5
                    ),
                ),
                ("published", models.DateTimeField(blank=True, null=True)),
                ("published_on", models.DateField(blank=True, null=True)),
                ("at", models.TimeField(blank=True, null=True)),
            ],
        ),
    ]
