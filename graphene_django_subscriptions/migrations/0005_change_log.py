import uuid

import django.utils.timezone
from django.db import migrations, models

TABLE = "graphene_django_subscriptions_loggedchange"

# PostgreSQL: a sequence's values are not commit order (a later-numbered transaction can
# commit first). So a change gets its position as its transaction commits, under a lock
# that makes committing changes take turns: positions are then in commit order, and every
# position below a visible one is visible too.
POSTGRES_FORWARD = [
    "CREATE SEQUENCE gds_change_position",
    f"""
    CREATE FUNCTION gds_assign_change_position() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock(7165882405913118561);
        UPDATE {TABLE} SET position = nextval('gds_change_position') WHERE id = NEW.id;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE CONSTRAINT TRIGGER gds_change_position AFTER INSERT ON {TABLE}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE PROCEDURE gds_assign_change_position()
    """,
]
POSTGRES_BACKWARD = [
    f"DROP TRIGGER IF EXISTS gds_change_position ON {TABLE}",
    "DROP FUNCTION IF EXISTS gds_assign_change_position()",
    "DROP SEQUENCE IF EXISTS gds_change_position",
]
# SQLite: one transaction writes at a time, from its first write to its commit, so the
# order of insertion is the order of commit; the row's id (AUTOINCREMENT: never reused) is its position.
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER gds_change_position AFTER INSERT ON {TABLE} FOR EACH ROW
    BEGIN UPDATE {TABLE} SET position = NEW.id WHERE id = NEW.id; END
    """
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS gds_change_position"]


def _run(statements):
    def run(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement)

    return run


def _new_epoch(apps, schema_editor):
    epochs = apps.get_model("graphene_django_subscriptions", "ChangeLogEpoch")
    epochs.objects.using(schema_editor.connection.alias).create(epoch=uuid.uuid4().hex[:12])


class Migration(migrations.Migration):
    dependencies = [("graphene_django_subscriptions", "0004_record_operation")]

    operations = [
        migrations.CreateModel(
            name="LoggedChange",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("stream", models.CharField(max_length=64)),
                ("action", models.CharField(max_length=8)),
                ("object_key", models.CharField(max_length=255)),
                ("state", models.TextField()),
                ("audiences", models.TextField(blank=True, default="")),
                ("position", models.BigIntegerField(db_index=True, null=True)),
                ("logged_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "indexes": [models.Index(fields=["stream", "position"], name="gds_log_stream_position")]
            },
        ),
        migrations.CreateModel(
            name="ChangeLogHistory",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("stream", models.CharField(max_length=64, unique=True)),
                ("pruned_through", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="ChangeLogEpoch",
            fields=[
                (
                    "id",
                    models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("epoch", models.CharField(max_length=32)),
            ],
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
        migrations.RunPython(_new_epoch, migrations.RunPython.noop),
    ]
