from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("graphene_django_subscriptions", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="subscribersocket",
            name="user_key",
            field=models.CharField(db_index=True, default="anon", max_length=255),
        ),
        migrations.AddField(
            model_name="subscribersocket",
            name="session_key",
            field=models.CharField(blank=True, db_index=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="subscribersocket",
            name="password_key",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="subscribersocket",
            name="window_started",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="subscribersocket",
            name="window_requests",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="subscriptionrecord",
            name="audience",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
    ]
