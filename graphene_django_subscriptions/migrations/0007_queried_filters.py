from django.db import migrations, models

TABLE = "graphene_django_subscriptions_loggedchange"

# Adding a column makes SQLite's schema editor (Django's, before 5) copy the table to a new one,
# which drops the trigger that gives each change its position: make it again where it is gone.
SQLITE_TRIGGER = f"""
CREATE TRIGGER IF NOT EXISTS gds_change_position AFTER INSERT ON {TABLE} FOR EACH ROW
BEGIN UPDATE {TABLE} SET position = NEW.id WHERE id = NEW.id; END
"""


def _keep_sqlite_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("graphene_django_subscriptions", "0006_filters")]

    operations = [
        migrations.AddField(
            model_name="subscriptionrecord",
            name="filter_queried",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="loggedchange",
            name="filtered",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.RunPython(_keep_sqlite_trigger, migrations.RunPython.noop),
    ]
