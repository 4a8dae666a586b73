from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("graphene_django_subscriptions", "0008_filter_routes")]

    operations = [
        migrations.CreateModel(
            name="OrmWrite",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("table_name", models.CharField(db_index=True, max_length=255)),
            ],
        ),
    ]
