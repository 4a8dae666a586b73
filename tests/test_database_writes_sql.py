"""The triggers ``ReportDatabaseWrites`` writes, and how a row they logged reads back, in process (both engines):
the errors a person reads when a table cannot have them, and values as each database gives them."""

import datetime
import json

import pytest
from django.db import connections, migrations, models
from django.db.migrations.state import ProjectState
from django.test.utils import isolate_apps

from graphene_django_subscriptions import ReportDatabaseWrites, database_writes
from graphene_django_subscriptions.models import LoggedChange, OrmWrite
from testproject.models import Article, Review


def test_a_database_without_triggers_of_ours_is_named_in_the_error():
    with pytest.raises(NotImplementedError) as refused:
        database_writes.install_statements(Review, "mysql")
    assert str(refused.value) == (
        "Database triggers are written for PostgreSQL and SQLite, not mysql: on this database, only writes "
        "through the ORM are heard."
    )


@isolate_apps("testproject")
def test_a_label_longer_than_the_change_log_keeps_is_refused_before_any_trigger_is_made():
    class AModelWhoseNameIsFarLongerThanTheChangeLogKeepsForAStreamNameX(models.Model):
        class Meta:
            app_label = "testproject"

    for vendor in ("postgresql", "sqlite"):
        with pytest.raises(ValueError) as refused:
            database_writes.install_statements(
                AModelWhoseNameIsFarLongerThanTheChangeLogKeepsForAStreamNameX, vendor
            )
        assert str(refused.value) == (
            "Cannot report the database's writes to "
            "testproject.AModelWhoseNameIsFarLongerThanTheChangeLogKeepsForAStreamNameX: its label is longer than "
            "the change log keeps (63 characters)."
        )


def test_a_row_reads_back_as_each_database_gives_its_values():
    # SQLite: UTC without an offset; PostgreSQL: an offset of the session's time zone.
    for published in ("2026-12-07 10:11:12.500000", "2026-12-07T04:11:12.5-06:00"):
        text = json.dumps({"id": 7, "title": "t", "author_id": 3, "status": "live", "published": published})
        article = database_writes.instance_from_row(Article, text)
        assert (article.pk, article.title, article.author_id, article.status) == (7, "t", 3, "live")
        assert article.published == datetime.datetime(
            2026, 12, 7, 10, 11, 12, 500000, tzinfo=datetime.timezone.utc
        )
        assert article.published_on is None  # a column the row did not hold


def test_the_sqlite_triggers_list_the_columns_and_stay_silent_on_the_orm_s_writes():
    statements = database_writes.install_statements(Review, "sqlite")
    created = [statement for statement in statements if "CREATE TRIGGER" in statement]
    assert [statement.split()[2] for statement in created] == [
        '"gds_write_insert_testproject_review"',
        '"gds_write_update_testproject_review"',
        '"gds_write_delete_testproject_review"',
    ]
    for statement in created:
        assert "WHERE table_name = 'testproject_review'" in statement
        assert "json_object('id', " in statement and "'reviewer_id', " in statement


def test_a_sqlite_table_keeps_its_triggers_and_its_columns_through_later_migrations():
    """SQLite drops a table's triggers when Django rebuilds it, refuses to drop a column a trigger names,
    and keeps a renamed column's old name in what the trigger writes: each migration of the table after
    ``ReportDatabaseWrites`` keeps them, listing the columns as they are now. Run in process, as
    ``migrate`` runs each operation, on an in-memory SQLite database."""
    connection = connections["default"]
    made = [model for model in (LoggedChange, OrmWrite) if model._meta.db_table not in tables(connection)]
    with connection.schema_editor() as editor:
        for model in made:
            editor.create_model(model)
    state = ProjectState()

    def migrate(*operations):
        nonlocal state
        for operation in operations:
            after = state.clone()
            operation.state_forwards("gdsschema", after)
            with connection.schema_editor() as editor:
                operation.database_forwards("gdsschema", editor, state, after)
            state = after

    def logged(table, columns, values):
        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(values))
            cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
        entry = LoggedChange.objects.filter(stream="@gdsschema.thing").latest("id")
        return json.loads(entry.state)

    try:
        fields = [("id", models.AutoField(primary_key=True)), ("name", models.CharField(max_length=20))]
        migrate(migrations.CreateModel("Thing", fields), ReportDatabaseWrites("Thing"))
        assert logged("gdsschema_thing", ["name"], ["a"]) == {"id": 1, "name": "a"}
        migrate(migrations.AddField("Thing", "size", models.IntegerField(null=True)))  # a new column
        assert logged("gdsschema_thing", ["name", "size"], ["b", 2]) == {"id": 2, "name": "b", "size": 2}
        migrate(migrations.AlterField("Thing", "size", models.IntegerField(default=0)))  # a rebuild
        assert logged("gdsschema_thing", ["name", "size"], ["c", 3]) == {"id": 3, "name": "c", "size": 3}
        migrate(migrations.RemoveField("Thing", "name"))  # a column the triggers named
        assert logged("gdsschema_thing", ["size"], [4]) == {"id": 4, "size": 4}
        migrate(migrations.RenameField("Thing", "size", "pages"))
        assert logged("gdsschema_thing", ["pages"], [5]) == {"id": 5, "pages": 5}
        migrate(migrations.AlterModelTable("Thing", "gdsschema_things"))
        assert logged("gdsschema_things", ["pages"], [6]) == {"id": 6, "pages": 6}
        database_writes.forget()
        assert "gdsschema_things" in database_writes.installed()
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(state.apps.get_model("gdsschema", "Thing"))
            for model in made:
                editor.delete_model(model)
        database_writes.forget()


def tables(connection):
    with connection.cursor() as cursor:
        return connection.introspection.table_names(cursor)
