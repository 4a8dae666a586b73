import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("graphene_django_subscriptions", "0007_queried_filters")]

    operations = [
        migrations.CreateModel(
            name="FilterRoute",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("stream", models.CharField(max_length=64)),
                ("route", models.CharField(max_length=20)),
                (
                    "record",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="routes",
                        to="graphene_django_subscriptions.subscriptionrecord",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["stream", "route"], name="gds_filter_route_value")],
            },
        ),
    ]
