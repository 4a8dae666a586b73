from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("testproject", "0002_admin")]

    operations = [
        migrations.CreateModel(
            name="Marker",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("label", models.CharField(max_length=40)),
            ],
        ),
    ]
