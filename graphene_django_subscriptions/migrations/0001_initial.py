import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="SubscriberSocket",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("channel_name", models.CharField(max_length=255, unique=True)),
                ("connected_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name="SubscriptionRecord",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("stream", models.CharField(max_length=64)),
                ("action", models.CharField(max_length=8)),
                (
                    "object_key",
                    models.CharField(blank=True, default="", max_length=255),
                ),
                ("fields_key", models.CharField(max_length=64)),
                (
                    "socket",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="subscriptions",
                        to="graphene_django_subscriptions.SubscriberSocket",
                    ),
                ),
            ],
            options={
                "unique_together": {("socket", "stream", "action", "object_key")},
            },
        ),
        migrations.AddIndex(
            model_name="subscriptionrecord",
            index=models.Index(fields=["stream", "action", "object_key"], name="gds_record_target"),
        ),
    ]
