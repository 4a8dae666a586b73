import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("graphene_django_subscriptions", "0002_socket_owner_and_audience")]

    operations = [
        migrations.AddField(
            model_name="subscribersocket",
            name="renewed_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
    ]
