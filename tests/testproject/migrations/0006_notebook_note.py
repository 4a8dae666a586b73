from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("testproject", "0005_review_database_writes")]

    operations = [
        migrations.CreateModel(
            name="Notebook",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("title", models.CharField(max_length=100)),
            ],
        ),
        migrations.CreateModel(
            name="Note",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("text", models.CharField(max_length=100)),
                (
                    "notebook",
                    models.ForeignKey(
                        # Django 6.1: the database deletes a notebook's notes (as the model says).
                        on_delete=getattr(models, "DB_CASCADE", models.CASCADE),
                        related_name="notes",
                        to="testproject.notebook",
                    ),
                ),
            ],
        ),
    ]
