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
    dependencies = [("graphene_django_subscriptions", "0005_change_log")]

    operations = [
        migrations.AddField(
            model_name="subscriptionrecord",
            name="filter_key",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
        migrations.AddField(
            model_name="subscriptionrecord",
            name="filter",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="subscriptionrecord",
            name="filter_route",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
        migrations.AddIndex(
            model_name="subscriptionrecord",
            index=models.Index(fields=["stream", "filter_route"], name="gds_record_filter_route"),
        ),
        migrations.AlterUniqueTogether(
            name="subscriptionrecord",
            unique_together={("socket", "stream", "action", "object_key", "filter_key", "operation")},
        ),
        migrations.AddField(
            model_name="loggedchange",
            name="previous",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="loggedchange",
            name="scope",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.RunPython(_keep_sqlite_trigger, migrations.RunPython.noop),
    ]
