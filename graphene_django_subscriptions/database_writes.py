"""Writes the database reports itself: raw SQL, other programs, cascades the database runs.

Opt-in, per table: the migration operation ``ReportDatabaseWrites`` (or
``install``) puts triggers on a followed model's table that log each row a
statement inserts, updates or deletes in the change log, in the writing
transaction, with the row as stored (and, for an update, as it was), under the
model's raw stream (``@app_label.model``). Server processes deliver them from
the log as any change (modern engine; see ``notifications.from_log``):
PostgreSQL tells them at commit (``NOTIFY``), SQLite by its ``data_version``
(see ``engines.commit_watch``).

A write through the ORM is reported by the package, judged as it always is:
while it runs, its tables are named in ``OrmWrite`` in its own transaction
(visible to nobody else), and the triggers stay silent on them. So a row is
reported once, whichever way it was written.
"""

import contextlib
import contextvars
import datetime
import functools
import json

from django.apps import apps
from django.conf import settings
from django.db import connections, models, transaction
from django.db.migrations.operations.base import Operation

from .models import LoggedChange, OrmWrite

#: The stream text of the changes a model's triggers log (a stream name cannot start with it).
PREFIX = "@"
#: The name every trigger of the package's starts with (on SQLite, one per table and statement kind).
TRIGGER = "gds_write"
#: The PostgreSQL channel a trigger's transaction notifies at commit (no payload: read the log).
CHANNEL = "gds_changes"

_ACTIONS = {"INSERT": "create", "UPDATE": "update", "DELETE": "delete"}
_FUNCTION = "gds_log_database_write"
_JSON = getattr(models, "JSONField", ())  # Django 3.1 and later


def raw_stream(model):
    """The stream text of the changes the database logs of ``model``'s rows."""
    return PREFIX + model._meta.label_lower


def model_of(stream):
    """The model of a raw stream text, or None (not one, or no such model)."""
    if not stream.startswith(PREFIX):
        return None
    try:
        return apps.get_model(stream[len(PREFIX) :])
    except LookupError:
        return None


def unjudgeable(meta):
    """Whether a stream cannot judge a change the database logged: its ``Meta.queryset``, per-recipient
    rule or filters that take a query would have to be asked as the change committed, which no trigger
    can do. Its subscribers resync instead (never a change judged on rows read later)."""
    return (
        meta.queryset is not None or meta.per_recipient or (meta.filters is not None and meta.filters.queries)
    )


# -- Installing --------------------------------------------------------------------------------


def install_statements(model, vendor):
    """The SQL that makes the database log ``model``'s row changes (PostgreSQL or SQLite)."""
    most = LoggedChange._meta.get_field("stream").max_length
    if len(raw_stream(model)) > most:
        raise ValueError(
            f"Cannot report the database's writes to {model._meta.label}: its label is longer than the "
            f"change log keeps ({most - len(PREFIX)} characters)."
        )
    if vendor == "postgresql":
        return _postgres(model)
    if vendor == "sqlite":
        return _sqlite(model)
    raise NotImplementedError(
        f"Database triggers are written for PostgreSQL and SQLite, not {vendor}: on this database, only "
        "writes through the ORM are heard."
    )


def uninstall_statements(model, vendor):
    """The SQL that takes ``install_statements``' triggers away again."""
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {TRIGGER} ON {_quoted(model._meta.db_table)}"]
    return _sqlite_drops(model._meta.db_table)


def install(model, using="default"):
    """Put the triggers on ``model``'s table now (``ReportDatabaseWrites`` does it in a migration)."""
    _run(install_statements, model, using)


def uninstall(model, using="default"):
    """Take them away."""
    _run(uninstall_statements, model, using)


def _run(statements, model, using):
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for statement in statements(model, connection.vendor):
            cursor.execute(statement)
    forget(using)


def _quoted(name):
    return '"%s"' % name.replace('"', '""')


def _postgres(model):
    log, writes = LoggedChange._meta.db_table, OrmWrite._meta.db_table
    function = f"""
    CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        now_stored jsonb;
        before jsonb;
    BEGIN
        IF EXISTS (SELECT 1 FROM {writes} WHERE table_name = TG_TABLE_NAME) THEN
            RETURN NULL;  -- the ORM writes it, and reports it itself
        END IF;
        IF TG_OP <> 'INSERT' THEN before := to_jsonb(OLD); END IF;
        IF TG_OP <> 'DELETE' THEN now_stored := to_jsonb(NEW); END IF;
        INSERT INTO {log} (stream, action, object_key, state, previous, audiences, logged_at)
        VALUES (
            TG_ARGV[0],
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END,
            COALESCE(now_stored, before) ->> TG_ARGV[1],
            COALESCE(now_stored, before)::text,
            CASE WHEN TG_OP = 'UPDATE' THEN before::text END,
            '',
            now()
        );
        PERFORM pg_notify('{CHANNEL}', '');  -- one per transaction, at commit
        RETURN NULL;
    END $$
    """
    table = _quoted(model._meta.db_table)
    arguments = f"'{raw_stream(model)}', '{model._meta.pk.column}'"
    return [
        function,
        f"DROP TRIGGER IF EXISTS {TRIGGER} ON {table}",
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE PROCEDURE {_FUNCTION}({arguments})",
    ]


def _sqlite_name(table, kind):
    return _quoted(f"{TRIGGER}_{kind.lower()}_{table}")


def _sqlite_drops(table):
    return [f"DROP TRIGGER IF EXISTS {_sqlite_name(table, kind)}" for kind in _ACTIONS]


def _sqlite_value(field, row):
    column = f"{row}.{_quoted(field.column)}"
    if isinstance(field, models.BinaryField):
        return f"hex({column})"  # JSON holds no blob
    if isinstance(field, _JSON):
        return f"json({column})"  # the value, not its text
    return column


def _sqlite_key(field, row):
    column = f"{row}.{_quoted(field.column)}"
    if isinstance(field, models.UUIDField):  # stored as 32 digits; a key's text has its dashes
        parts = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        return " || '-' || ".join(f"substr({column}, {start}, {length})" for start, length in parts)
    return f"CAST({column} AS TEXT)"


def _sqlite_state(fields, row):
    pairs = ", ".join(f"'{field.column}', {_sqlite_value(field, row)}" for field in fields)
    return f"json_object({pairs})"


def _sqlite(model, table=None, fields=None):
    """The SQLite triggers of ``model``'s table (or of ``table``, holding the columns of ``fields``: a
    table a schema change is making)."""
    log, writes = _quoted(LoggedChange._meta.db_table), _quoted(OrmWrite._meta.db_table)
    table = table or model._meta.db_table
    fields = model._meta.concrete_fields if fields is None else fields
    pk = next((field for field in fields if field.primary_key), model._meta.pk)
    statements = []
    for kind, action in _ACTIONS.items():
        row = "OLD" if kind == "DELETE" else "NEW"
        previous = _sqlite_state(fields, "OLD") if kind == "UPDATE" else "NULL"
        statements += [
            f"DROP TRIGGER IF EXISTS {_sqlite_name(table, kind)}",
            f"""
            CREATE TRIGGER {_sqlite_name(table, kind)} AFTER {kind} ON {_quoted(table)} FOR EACH ROW
            WHEN NOT EXISTS (SELECT 1 FROM {writes} WHERE table_name = '{table}')
            BEGIN
                INSERT INTO {log} (stream, action, object_key, state, previous, audiences, logged_at)
                VALUES (
                    '{raw_stream(model)}', '{action}', {_sqlite_key(pk, row)},
                    {_sqlite_state(fields, row)}, {previous}, '',
                    strftime('%Y-%m-%d %H:%M:%f', 'now')
                );
            END
            """,
        ]
    return statements


class ReportDatabaseWrites(Operation):
    """A migration operation: from now on the database logs every write to the app's model ``model_name``
    (raw SQL, other programs, its own cascades), for the streams that follow it.

    PostgreSQL and SQLite; reversible. Put it in a migration of the model's
    app that depends on ``("graphene_django_subscriptions", "0009_orm_writes")``.
    On SQLite the triggers list the table's columns: later migrations of the
    table keep them, with its columns as they become (see
    ``keep_through_schema_changes``).
    """

    reversible = True

    def __init__(self, model_name):
        self.model_name = model_name

    def deconstruct(self):
        return self.__class__.__qualname__, [self.model_name], {}

    def state_forwards(self, app_label, state):
        pass  # triggers are no part of Django's model state

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._apply(install_statements, to_state.apps.get_model(app_label, self.model_name), schema_editor)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._apply(
            uninstall_statements, from_state.apps.get_model(app_label, self.model_name), schema_editor
        )

    def _apply(self, statements, model, schema_editor):
        alias = schema_editor.connection.alias
        if self.allow_migrate_model(alias, model):
            for statement in statements(model, schema_editor.connection.vendor):
                schema_editor.execute(statement, params=None)  # SQL as written: its % are no placeholders
            forget(alias)

    def describe(self):
        return f"Report every write to {self.model_name} from the database (triggers)"


# -- Through schema changes (SQLite) ------------------------------------------------------------


def keep_through_schema_changes():
    """Keep the triggers of SQLite tables, listing their columns as they become, through every schema
    change of those tables (Django's SQLite schema editor, patched once, however often called).

    SQLite drops a table's triggers when Django rebuilds it (most changes of a
    column or a constraint), refuses to drop a column that a trigger names,
    and keeps a renamed column's old name in the JSON the trigger writes. So a
    change of a table with the package's triggers takes them away first and
    puts them back after. PostgreSQL needs none of it: its trigger logs the
    whole row, whatever its columns.
    """
    from django.db.backends.sqlite3.schema import DatabaseSchemaEditor

    if getattr(DatabaseSchemaEditor, "gds_keeps_triggers", False):
        return
    for name, plan in _SCHEMA_CHANGES.items():
        setattr(DatabaseSchemaEditor, name, _keeping(getattr(DatabaseSchemaEditor, name), plan))
    DatabaseSchemaEditor.gds_keeps_triggers = True


def _keeping(change, plan):
    """``change``, a method of the schema editor, with the table's triggers taken away before it and put
    back after it (``plan``: the table before and after, and its columns after, as fields)."""

    @functools.wraps(change)
    def changing(self, model, *args, **kwargs):
        before, after, fields = plan(model, *args, **kwargs)
        if not _has_triggers(self.connection, before):
            return change(self, model, *args, **kwargs)  # or a change within another, which took them
        for statement in _sqlite_drops(before):
            self.execute(statement, params=None)
        result = change(self, model, *args, **kwargs)
        for statement in _sqlite(model, after, fields):
            self.execute(statement, params=None)
        forget(self.connection.alias)
        return result

    return changing


def _has_triggers(connection, table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s AND name GLOB %s",
            [table, f"{TRIGGER}_*"],
        )
        return cursor.fetchone() is not None


def _columns(model):
    return list(model._meta.concrete_fields)


def _replaced(fields, old, new):
    kept = [field for field in fields if field.name != old.name]
    return kept + [new] if new.concrete else kept


def _adding(model, field, *args, **kwargs):
    table = model._meta.db_table
    return table, table, _columns(model) + ([field] if field.concrete else [])


def _removing(model, field, *args, **kwargs):
    table = model._meta.db_table
    return table, table, [one for one in _columns(model) if one.name != field.name]


def _altering(model, old_field, new_field, *args, **kwargs):
    table = model._meta.db_table
    return table, table, _replaced(_columns(model), old_field, new_field)


def _remaking(model, create_field=None, delete_field=None, alter_fields=None, alter_field=None):
    # Django 4 and later pass ``alter_fields``, a list of (old, new); Django 2.2 ``alter_field``, one pair.
    fields = _columns(model)
    if create_field is not None and create_field.concrete:
        fields.append(create_field)
    if delete_field is not None:
        fields = [one for one in fields if one.name != delete_field.name]
    pairs = alter_fields or alter_field or []
    for old, new in [pairs] if isinstance(pairs, tuple) else pairs:
        fields = _replaced(fields, old, new)
    table = model._meta.db_table
    return table, table, fields


def _renaming(model, old_db_table, new_db_table, *args, **kwargs):
    return old_db_table, new_db_table, _columns(model)


#: The schema editor's changes of a table, with what each makes of it (see ``_keeping``).
_SCHEMA_CHANGES = {
    "add_field": _adding,
    "remove_field": _removing,
    "alter_field": _altering,
    "_remake_table": _remaking,
    "alter_db_table": _renaming,
}


# -- Which tables report -----------------------------------------------------------------------

_installed = {}


def installed(using="default"):
    """The tables whose writes the database logs (read once per process and database)."""
    if using not in _installed:
        connection = connections[using]
        if connection.vendor == "postgresql":
            query = "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            query += f"WHERE t.tgname = '{TRIGGER}'"
        elif connection.vendor == "sqlite":
            query = "SELECT DISTINCT tbl_name FROM sqlite_master "
            query += f"WHERE type = 'trigger' AND name GLOB '{TRIGGER}_*'"
        else:
            _installed[using] = frozenset()
            return _installed[using]
        with connection.cursor() as cursor:
            cursor.execute(query)
            _installed[using] = frozenset(row[0] for row in cursor.fetchall())
    return _installed[using]


def forget(using=None):
    """Read which tables report again (after triggers were installed or removed)."""
    if using is None:
        _installed.clear()
    else:
        _installed.pop(using, None)


def tables_of(model):
    """The tables a save of ``model`` writes: its own and its concrete parents'."""
    return [model._meta.db_table] + [parent._meta.db_table for parent in model._meta.get_parent_list()]


#: ``{(database, table)}`` an enclosing ``by_the_orm`` has named already (a save inside a bulk delete).
_marked = contextvars.ContextVar("gds_orm_writes", default=frozenset())


@contextlib.contextmanager
def by_the_orm(tables, using):
    """While it lasts, the triggers of ``tables`` log nothing in this transaction: the ORM reports what it
    writes. Call it inside the writing transaction. Costs nothing for tables without triggers."""
    marked = _marked.get()
    reporting = sorted(table for table in set(tables) & installed(using) if (using, table) not in marked)
    if not reporting:
        yield
        return
    writes = _quoted(OrmWrite._meta.db_table)
    with connections[using].cursor() as cursor:
        for table in reporting:
            cursor.execute(f"INSERT INTO {writes} (table_name) VALUES (%s)", [table])
    token = _marked.set(marked | {(using, table) for table in reporting})
    try:
        yield
    except BaseException:
        raise  # the transaction rolls back, and the marks with it: a failed one takes no more statements
    else:
        # Gone before commit: no other transaction ever sees them.
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {writes} WHERE table_name IN ({', '.join(['%s'] * len(reporting))})", reporting
            )
    finally:
        _marked.reset(token)


# -- Reading what a trigger logged -------------------------------------------------------------


def instance_from_row(model, text, using=None):
    """An instance of ``model`` from the row as a trigger logged it (JSON by column, as the database
    gives each value)."""
    values = json.loads(text)
    instance = model(
        **{
            field.attname: _python(field, values[field.column])
            for field in model._meta.concrete_fields
            if field.column in values
        }
    )
    instance._state.adding = False
    instance._state.db = using
    return instance


def _python(field, value):
    if value is None:
        return None
    if isinstance(field, models.BinaryField):
        return bytes.fromhex(value[2:] if value.startswith("\\x") else value)
    if isinstance(field, _JSON):
        return value
    value = field.to_python(value)
    if isinstance(value, datetime.datetime) and settings.USE_TZ and value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)  # SQLite keeps UTC without its offset
    return value
