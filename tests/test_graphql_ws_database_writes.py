"""Writes the database reports itself (triggers, ``ReportDatabaseWrites``): rows written by another program
(the ``sqlite3`` and ``psql`` command lines) reach subscribers, judged on the rows as stored, and are
replayed; a write through the ORM is still heard once. Modern engine: the change log carries them.

The test project's migration 0005 puts triggers on the reviews' table; the ``triggered`` server puts them
on the articles' too, and polls its change log once a minute only: what arrives sooner came by the
database's own notice (PostgreSQL's NOTIFY, SQLite's data_version).
"""

import json
import time

import pytest
from django.db import models

from support import databases
from support.article_feed import close, cursor_now, new_author, next_message, nothing_more, resume, run
from support.client import Socket, assert_nothing_more, at_once, subscribe, unique
from support.graphql_ws_client import WsSocket
from support.servers import django_admin

REVIEWS = "subscription { reviewChanges { action cursor data { id title reviewer } } }"
#: Slower than any test waits: a change that arrives came by the database's notice, not by polling.
POLL = 60


def sql(server, text):
    """Run ``text`` on ``server``'s database with its command-line client, a program that is not Django."""
    return databases.other_program(server.env["GDS_DATABASE"], text)


def review_event(action, data, cursor):
    return {
        "id": "1",
        "type": "next",
        "payload": {"data": {"reviewChanges": {"action": action, "cursor": cursor, "data": data}}},
    }


def review_frame(action, data):
    """The 2018 protocol's frame of a change of a review."""
    return {"stream": "reviews", "payload": {"action": action, "model": "testproject.review", "data": data}}


def read_reviews(sock, count):
    """The next ``count`` events of operation 1, checked whole: ``[(action, data, cursor)]``."""
    found = []
    for _ in range(count):
        message = next_message(sock)
        event = message["payload"]["data"]["reviewChanges"]
        assert message == review_event(event["action"], event["data"], event["cursor"])
        found.append((event["action"], event["data"], event["cursor"]))
    return found


@pytest.fixture(scope="module")
def few_rows(limited_server):
    return limited_server("database-writes-few", BULK_WRITE_MAX_CHANGES=2, CHANGE_LOG_POLL_SECONDS=POLL)


def test_a_statement_of_more_rows_than_the_limit_resyncs_each_subscriber_once_live_and_on_resume(few_rows):
    server = few_rows
    standard = [WsSocket(server) for _ in range(2)]
    selection = "subscription { reviewChanges { action count cursor data { title } } }"
    at_once(len(standard), lambda n: standard[n].follow("1", selection))
    legacy = Socket(server)
    subscribe(server, legacy, field="reviewSubscription", action="ALL_ACTIONS")
    cursor = cursor_now(server)
    titles = [unique("many") for _ in range(5)]
    values = ", ".join(f"('{title}')" for title in titles[:3])
    sql(server, f"INSERT INTO testproject_review (title) VALUES {values}")  # three rows: more than two
    resyncs = [sock.recv() for sock in standard]
    at = resyncs[0]["payload"]["data"]["reviewChanges"]["cursor"]
    event = {"action": "RESYNC", "count": 3, "cursor": at, "data": None}
    assert resyncs == [{"id": "1", "type": "next", "payload": {"data": {"reviewChanges": event}}}] * 2
    assert legacy.recv() == {
        "stream": "reviews",
        "payload": {"action": "resync", "model": "testproject.review", "data": None, "count": 3},
    }
    values = ", ".join(f"('{title}')" for title in titles[3:])
    sql(server, f"INSERT INTO testproject_review (title) VALUES {values}")  # two rows: row by row
    for sock in standard:
        events = [field_of(sock.recv()) for _ in range(2)]
        assert [(e["action"], e["count"], e["data"]) for e in events] == [
            ("CREATE", None, {"title": title}) for title in titles[3:]
        ]
    assert [legacy.recv()["payload"]["data"]["title"] for _ in range(2)] == titles[3:]
    # Resumed from before both: the gap holds the long run, so a RESYNC (of the gap: no count).
    late = WsSocket(server)
    resume(late, "1", selection.replace("reviewChanges", "reviewChanges(after: %s)" % json.dumps(cursor)))
    replayed = field_of(next_message(late))
    assert (replayed["action"], replayed["count"], replayed["data"]) == ("RESYNC", None, None)
    nothing_more(*standard, legacy, late)
    close([*standard, legacy, late])


def test_in_a_statement_of_more_rows_than_the_limit_a_subscriber_of_one_object_hears_its_own_change(few_rows):
    server = few_rows
    titles = {name: unique(name) for name in "wxyz"}
    made = run(server, [{"create": "review", "as": name, "set": {"title": t}} for name, t in titles.items()])
    x, y = made["x"], made["y"]
    selection = "action count cursor data { id title }"
    whole = WsSocket(server)
    of_x = [WsSocket(server) for _ in range(2)]
    of_y = WsSocket(server)  # y is not written: it hears nothing
    documents = [
        (whole, "subscription { reviewChanges { %s } }" % selection),
        *((sock, 'subscription { reviewChanges(id: "%s") { %s } }' % (x, selection)) for sock in of_x),
        (of_y, 'subscription { reviewChanges(id: "%s") { %s } }' % (y, selection)),
    ]
    at_once(len(documents), lambda n: documents[n][0].follow("1", documents[n][1]))
    legacy_x = Socket(server)
    subscribe(server, legacy_x, field="reviewSubscription", action="ALL_ACTIONS", id=x)
    cursor = cursor_now(server)
    written = [made[name] for name in "wxz"]
    sql(
        server,
        "UPDATE testproject_review SET title = title || '!' WHERE id IN (%s)" % ", ".join(map(str, written)),
    )
    resync = whole.recv()
    at = resync["payload"]["data"]["reviewChanges"]["cursor"]
    event = {"action": "RESYNC", "count": 3, "cursor": at, "data": None}
    assert resync == {"id": "1", "type": "next", "payload": {"data": {"reviewChanges": event}}}
    heard = [sock.recv() for sock in of_x]
    mine = heard[0]["payload"]["data"]["reviewChanges"]["cursor"]
    event = {"action": "UPDATE", "count": None, "cursor": mine, "data": {"id": x, "title": titles["x"] + "!"}}
    assert heard == [{"id": "1", "type": "next", "payload": {"data": {"reviewChanges": event}}}] * 2
    assert legacy_x.recv() == review_frame("update", {"id": x, "title": titles["x"] + "!", "reviewer": None})
    # Resumed from before: x's own change; the whole stream's subscriber a RESYNC.
    late_x, late = WsSocket(server), WsSocket(server)
    after = json.dumps(cursor)
    resume(late_x, "1", 'subscription { reviewChanges(id: "%s", after: %s) { %s } }' % (x, after, selection))
    resume(late, "1", "subscription { reviewChanges(after: %s) { %s } }" % (after, selection))
    assert next_message(late_x) == heard[0]
    assert field_of(next_message(late))["action"] == "RESYNC"
    nothing_more(whole, *of_x, of_y, legacy_x, late_x, late)
    close([whole, *of_x, of_y, legacy_x, late_x, late])


def test_runs_of_database_writes_apart_in_the_log_are_replayed_as_they_were_heard(few_rows):
    """Two statements of two rows each, a save of another model between them in the log: two runs within the
    limit (two), so each row is heard; a subscription resuming from before them replays the same rows, not a
    RESYNC (the replay tells the runs apart by their positions, as live delivery does)."""
    server = few_rows
    author = new_author(server)
    live = [WsSocket(server) for _ in range(2)]
    at_once(len(live), lambda n: live[n].follow("1", REVIEWS))
    cursor = cursor_now(server)
    titles = [unique("apart") for _ in range(4)]
    sql(server, "INSERT INTO testproject_review (title) VALUES ('%s'), ('%s')" % tuple(titles[:2]))
    run(server, [{"create": "article", "as": "x", "set": {"title": unique("between"), "author_id": author}}])
    sql(server, "INSERT INTO testproject_review (title) VALUES ('%s'), ('%s')" % tuple(titles[2:]))
    heard = [read_reviews(sock, 4) for sock in live]
    assert [(action, data["title"]) for action, data, _ in heard[0]] == [
        ("CREATE", title) for title in titles
    ]
    assert heard[1] == heard[0]
    late = [WsSocket(server) for _ in range(2)]
    resuming = REVIEWS.replace("reviewChanges", "reviewChanges(after: %s)" % json.dumps(cursor))
    at_once(len(late), lambda n: resume(late[n], "1", resuming))
    for sock in late:
        assert read_reviews(sock, 4) == heard[0]
    nothing_more(*live, *late)
    close([*live, *late])


def install_triggers(model):
    """A ``prepare`` of ``limited_server``: triggers on ``model``'s table (testproject.models), as the
    documentation's ``database_writes.install`` puts them."""

    def prepare(env):
        code = (
            "from graphene_django_subscriptions import database_writes; "
            f"from testproject.models import {model}; database_writes.install({model})"
        )
        django_admin(env, "shell", "-c", code)

    return prepare


@pytest.fixture(scope="module")
def reviews_server(limited_server):
    """Reviews have triggers (the test project's migration), and notes too here."""
    return limited_server("database-writes", prepare=install_triggers("Note"), CHANGE_LOG_POLL_SECONDS=POLL)


def test_rows_another_program_writes_reach_every_subscriber_once_in_commit_order(reviews_server):
    server = reviews_server
    reviewer = new_author(server)
    standard = [WsSocket(server) for _ in range(3)]
    legacy = [Socket(server) for _ in range(2)]
    at_once(len(standard), lambda n: standard[n].follow("1", REVIEWS))
    at_once(
        len(legacy),
        lambda n: subscribe(server, legacy[n], field="reviewSubscription", action="ALL_ACTIONS"),
    )
    cursor = cursor_now(server)
    first, second = unique("first"), unique("second")
    # One transaction of the command-line client: a row made, another made and changed, the first gone.
    started = time.monotonic()
    sql(
        server,
        "BEGIN; "
        f"INSERT INTO testproject_review (title, reviewer_id) VALUES ('{first}', {reviewer}); "
        f"INSERT INTO testproject_review (title, reviewer_id) VALUES ('{second}', NULL); "
        f"UPDATE testproject_review SET title = '{second}!', reviewer_id = {reviewer} WHERE title = '{second}'; "
        f"DELETE FROM testproject_review WHERE title = '{first}'; "
        "COMMIT;",
    )
    heard = [read_reviews(sock, 4) for sock in standard]
    waited = time.monotonic() - started
    assert waited < POLL / 2, waited  # by the database's notice, not the minute's poll
    a, b = heard[0][0][1]["id"], heard[0][1][1]["id"]
    expected = [
        ("CREATE", {"id": a, "title": first, "reviewer": reviewer}),
        ("CREATE", {"id": b, "title": second, "reviewer": None}),
        ("UPDATE", {"id": b, "title": second + "!", "reviewer": reviewer}),
        ("DELETE", {"id": a, "title": first, "reviewer": reviewer}),
    ]
    for events in heard:
        assert [event[:2] for event in events] == expected
        assert [event[2] for event in events] == [event[2] for event in heard[0]]
    for sock in legacy:
        assert [sock.recv() for _ in range(4)] == [
            review_frame("create", {"id": a, "title": first, "reviewer": reviewer}),
            review_frame("create", {"id": b, "title": second, "reviewer": None}),
            review_frame("update", {"id": b, "title": second + "!", "reviewer": reviewer}),
            review_frame("delete", {"id": a, "title": first, "reviewer": reviewer}),
        ]
    # Through the ORM, with the triggers there: a save, a QuerySet.update() and a delete, each heard once.
    third = unique("third")
    run(
        server,
        [
            {"create": "review", "as": "c", "set": {"title": third, "reviewer_id": reviewer}},
            {"update_where": ["c"], "set": {"title": third + "!"}},
            {"delete": "c"},
        ],
    )
    orm = [read_reviews(sock, 3) for sock in standard]
    c = orm[0][0][1]["id"]
    for events in orm:
        assert [event[:2] for event in events] == [
            ("CREATE", {"id": c, "title": third, "reviewer": reviewer}),
            ("UPDATE", {"id": c, "title": third + "!", "reviewer": reviewer}),
            ("DELETE", {"id": c, "title": third + "!", "reviewer": reviewer}),
        ]
    for sock in legacy:
        assert [sock.recv()["payload"]["action"] for _ in range(3)] == ["create", "update", "delete"]
    # Resumed from before them all: the same seven events, raw and ORM alike, then nothing.
    late = [WsSocket(server) for _ in range(3)]
    query = REVIEWS.replace("reviewChanges", "reviewChanges(after: %s)" % json.dumps(cursor))
    at_once(len(late), lambda n: resume(late[n], "1", query))
    for sock in late:
        assert read_reviews(sock, 7) == [*heard[0], *orm[0]]
    nothing_more(*standard, *legacy, *late)
    close([*standard, *legacy, *late])


@pytest.fixture(scope="module")
def triggered(limited_server):
    """A server whose articles' table has triggers too (installed before it starts)."""
    return limited_server(
        "database-writes-articles", prepare=install_triggers("Article"), CHANGE_LOG_POLL_SECONDS=POLL
    )


def field_of(message):
    (field,) = message["payload"]["data"]
    return message["payload"]["data"][field]


def test_database_writes_are_judged_as_stored_and_streams_whose_rules_need_the_moment_resync(triggered):
    server = triggered
    alice, bob = new_author(server), new_author(server)
    titles = [unique("raw") for _ in range(2)]
    made = run(
        server,
        [
            {"create": "article", "as": n, "set": {"title": t, "author_id": alice, "status": "live"}}
            for n, t in zip("ab", titles)
        ],
    )
    a, b = made["a"], made["b"]
    documents = [
        "subscription { filteredArticleChanges { action cursor data { id title published } } }",
        'subscription { filteredArticleChanges(author: "%s") { action cause data { id author published } } }'
        % alice,
        "subscription { liveArticleChanges { action cause count cursor data { id } } }",  # a scope
        "subscription { publicArticleChanges { action cause count cursor data { id } } }",  # a rule
    ]
    sockets = [WsSocket(server) for _ in range(2 * len(documents))]
    at_once(len(sockets), lambda n: sockets[n].follow("1", documents[n % len(documents)]))
    cursor = cursor_now(server)
    stamp = "2026-12-07 10:11:12.5+00" if databases.KIND == "postgres" else "2026-12-07 10:11:12.500000"
    # One statement, two rows: both leave alice's filter, both stay in the live scope.
    sql(
        server,
        f"UPDATE testproject_article SET author_id = {bob}, published = '{stamp}' WHERE id IN ({a}, {b})",
    )
    heard = [
        [next_message(sock) for _ in range(2 if n % len(documents) < 2 else 1)]
        for n, sock in enumerate(sockets)
    ]
    plain = [field_of(message) for message in heard[0]]
    published = plain[0]["data"]["published"]
    for messages in heard[:: len(documents)]:
        events = sorted((field_of(m) for m in messages), key=lambda event: event["data"]["id"])
        assert [(e["action"], e["data"]) for e in events] == [
            ("UPDATE", {"id": a, "title": titles[0], "published": published}),
            ("UPDATE", {"id": b, "title": titles[1], "published": published}),
        ]
    for messages in heard[1 :: len(documents)]:  # judged on the rows as they were and as they are
        events = sorted((field_of(m) for m in messages), key=lambda event: event["data"]["id"])
        assert events == [
            {"action": "DELETE", "cause": "LEFT", "data": {"id": a, "author": bob, "published": published}},
            {"action": "DELETE", "cause": "LEFT", "data": {"id": b, "author": bob, "published": published}},
        ]
    last = max(event["cursor"] for event in plain)
    for n in (2, 3, 6, 7):  # a scope or a per-recipient rule cannot be asked now: one RESYNC, at the end
        event = {"action": "RESYNC", "cause": None, "count": None, "cursor": last, "data": None}
        field = "liveArticleChanges" if n % len(documents) == 2 else "publicArticleChanges"
        assert heard[n] == [{"id": "1", "type": "next", "payload": {"data": {field: event}}}]
    # The value as stored reads as a save of the same row shows it.
    run(server, [{"load": "article", "pk": a, "as": "a"}, {"update": "a", "set": {"title": titles[0]}}])
    saved = [field_of(next_message(sock)) for sock in sockets[:: len(documents)]]
    assert [event["data"]["published"] for event in saved] == [published] * 2
    for n, sock in enumerate(sockets):
        if n % len(documents) >= 2:  # still live, and public: the save is judged, and heard
            assert field_of(next_message(sock))["action"] == "UPDATE"
    # Resumed from before the write: the same events where the stream judges them, else a RESYNC.
    late = [WsSocket(server) for _ in range(2)]
    queries = [
        document.replace("Changes", "Changes(after: %s)" % json.dumps(cursor)) for document in documents[::2]
    ]
    at_once(2, lambda n: resume(late[n], "1", queries[n]))
    replayed = [field_of(next_message(late[0])) for _ in range(3)]
    assert [(e["action"], e["data"]["id"]) for e in replayed][2] == ("UPDATE", a)
    assert sorted((e["action"], e["data"]["id"], e["cursor"]) for e in replayed[:2]) == sorted(
        (e["action"], e["data"]["id"], e["cursor"]) for e in plain
    )
    assert field_of(next_message(late[1]))["action"] == "RESYNC"
    nothing_more(*sockets, *late)
    close([*sockets, *late])


NOTES = "subscription { noteChanges { action data { id text notebook } } }"


def test_a_cascade_to_a_table_with_triggers_is_heard_once(reviews_server):
    """A notebook's notes go with it (the database's own cascade on Django 6.1, the collector's before); the
    notes' table has triggers. Deleted through the ORM, or by the command-line client on Django 6.1: the
    notes' subscribers hear one delete per note."""
    server = reviews_server
    books = run(server, [{"create": "notebook", "as": n, "set": {"title": unique("book")}} for n in "ab"])
    texts = {name: unique("note") for name in ("a1", "a2", "b1")}
    steps = [
        {"create": "note", "as": name, "set": {"text": text, "notebook_id": books[name[0]]}}
        for name, text in texts.items()
    ]
    notes = run(server, steps)
    sockets = [WsSocket(server) for _ in range(3)]
    at_once(len(sockets), lambda n: sockets[n].follow("1", NOTES))

    def deleted(*names):
        return [
            {"action": "DELETE", "data": {"id": notes[n], "text": texts[n], "notebook": books[n[0]]}}
            for n in names
        ]

    run(server, [{"load": "notebook", "pk": books["a"], "as": "a"}, {"delete": "a"}])
    for sock in sockets:
        events = sorted((field_of(sock.recv()) for _ in range(2)), key=lambda event: event["data"]["id"])
        assert events == deleted("a1", "a2")
    if hasattr(models, "DB_CASCADE"):  # the database deletes the notes of a notebook any program deletes
        foreign_keys = "PRAGMA foreign_keys = ON; " if databases.KIND == "sqlite" else ""
        sql(server, f"{foreign_keys}DELETE FROM testproject_notebook WHERE id = {books['b']}")
        for sock in sockets:
            assert field_of(sock.recv()) == deleted("b1")[0]
    assert_nothing_more(*sockets)
    close(sockets)


def logged_by_the_database(database):
    return int(
        databases.other_program(
            database,
            "SELECT COUNT(*) FROM graphene_django_subscriptions_loggedchange WHERE stream = '@testproject.review'",
        )
    )


def test_the_migration_operation_is_reversible(project):
    env = project("database-writes-migrations")
    database = env["GDS_DATABASE"]
    insert = "INSERT INTO testproject_review (title) VALUES ('%s')"
    databases.other_program(database, insert % unique("with"))
    assert logged_by_the_database(database) == 1
    backwards = django_admin(env, "migrate", "testproject", "0004", "--noinput")
    assert "Unapplying testproject.0005_review_database_writes... OK" in backwards.stdout
    databases.other_program(database, insert % unique("without"))
    assert logged_by_the_database(database) == 1  # no trigger logged it
    django_admin(env, "migrate", "--noinput")
    databases.other_program(database, insert % unique("again"))
    assert logged_by_the_database(database) == 2
