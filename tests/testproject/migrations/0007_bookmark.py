from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("testproject", "0006_notebook_note")]

    operations = [
        migrations.CreateModel(
            name="Bookmark",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("page", models.PositiveIntegerField()),
                (
                    "notebook",
                    models.ForeignKey(
                        null=True,
                        # Django 6.1: the database sets a gone notebook's bookmarks to null (as the model says).
                        on_delete=getattr(models, "DB_SET_NULL", models.SET_NULL),
                        related_name="bookmarks",
                        to="testproject.notebook",
                    ),
                ),
            ],
        ),
    ]
