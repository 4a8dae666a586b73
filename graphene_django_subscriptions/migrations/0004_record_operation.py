from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("graphene_django_subscriptions", "0003_socket_lease")]

    operations = [
        migrations.AddField(
            model_name="subscriptionrecord",
            name="operation",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
        migrations.AlterUniqueTogether(
            name="subscriptionrecord",
            unique_together={("socket", "stream", "action", "object_key", "operation")},
        ),
    ]
