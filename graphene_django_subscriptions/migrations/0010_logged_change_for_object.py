from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("graphene_django_subscriptions", "0009_orm_writes")]

    operations = [
        migrations.AddField(
            model_name="loggedchange",
            name="for_object",
            field=models.BooleanField(null=True),
        ),
    ]
