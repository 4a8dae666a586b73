"""The triggers ``ReportDatabaseWrites`` writes, and how a row they logged reads back, in process (both engines):
the errors a person reads when a table cannot have them, and values as each database gives them."""

import datetime
import json

import pytest
from django.db import models
from django.test.utils import isolate_apps

from graphene_django_subscriptions import database_writes
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
