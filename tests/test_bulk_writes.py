"""The ORM's bulk writes reach 2018 subscribers as saves do (both engines): ``bulk_create()``,
``QuerySet.update()``, ``bulk_update()`` and ``QuerySet.delete()``, one change per row, with the same
field selections, scopes and filters; a stream with ``Meta.bulk_writes = False`` hears saves only.
"""

import pytest

from support.article_feed import bulk_writes, new_author, run
from support.client import Socket, assert_nothing_more, at_once, delete_user, post, subscribe, unique

MODEL = "testproject.article"


def frame(stream, action, data, cause=None):
    payload = {"action": action, "model": MODEL, "data": data}
    if cause is not None:
        payload["cause"] = cause
    return {"stream": stream, "payload": payload}


def in_delete_order(frames):
    """``frames`` with their deletes by id: Django chooses the order it deletes a QuerySet's rows in (2.2 and
    5.2 differ), and subscribers hear them in that order."""
    deletes = [one for one in frames if one["payload"]["action"] == "delete"]
    rest = [one for one in frames if one["payload"]["action"] != "delete"]
    return rest + sorted(deletes, key=lambda one: one["payload"]["data"]["id"])


def test_bulk_writes_reach_every_kind_of_2018_subscriber_one_change_per_row(server):
    alice, bob = new_author(server), new_author(server)
    one, two, three = (unique(word) for word in ("one", "two", "three"))
    every = [Socket(server) for _ in range(3)]
    by_alice = [Socket(server) for _ in range(2)]
    live = [Socket(server) for _ in range(2)]
    requests = [dict(field="articleSubscription", data=["ID", "TITLE"]) for _ in every]
    requests += [dict(field="filteredArticleSubscription", data=["ID", "TITLE", "AUTHOR"], filters={"author": str(alice)})
                 for _ in by_alice]  # fmt: skip
    requests += [dict(field="liveArticleSubscription", data=["ID", "TITLE"]) for _ in live]
    sockets = [*every, *by_alice, *live]
    at_once(len(sockets), lambda n: subscribe(server, sockets[n], action="ALL_ACTIONS", **requests[n]))
    made = run(server, bulk_writes(alice, bob, one, two, three))
    a, b, c = made["a"], made["b"], made["c"]
    for sock in every:
        assert in_delete_order([sock.recv() for _ in range(10)]) == [
            frame("articles", "create", {"id": a, "title": one}),
            frame("articles", "create", {"id": b, "title": two}),
            frame("articles", "create", {"id": c, "title": three}),
            frame("articles", "update", {"id": a, "title": one}),
            frame("articles", "update", {"id": b, "title": two}),
            frame("articles", "update", {"id": c, "title": three}),
            frame("articles", "update", {"id": a, "title": "uno"}),
            frame("articles", "update", {"id": b, "title": two}),
            frame("articles", "delete", {"id": a, "title": "uno"}),
            frame("articles", "delete", {"id": c, "title": three}),
        ]
    for sock in by_alice:
        assert [sock.recv() for _ in range(7)] == [
            frame("filtered-articles", "create", {"id": a, "title": one, "author": alice}, "created"),
            frame("filtered-articles", "create", {"id": b, "title": two, "author": alice}, "created"),
            frame("filtered-articles", "update", {"id": a, "title": one, "author": alice}, "updated"),
            frame("filtered-articles", "update", {"id": b, "title": two, "author": alice}, "updated"),
            frame("filtered-articles", "update", {"id": a, "title": "uno", "author": alice}, "updated"),
            frame("filtered-articles", "delete", {"id": b, "title": two, "author": bob}, "left"),
            frame("filtered-articles", "delete", {"id": a, "title": "uno", "author": alice}, "deleted"),
        ]
    for sock in live:
        assert in_delete_order([sock.recv() for _ in range(7)]) == [
            frame("live-articles", "create", {"id": a, "title": one}, "entered"),
            frame("live-articles", "create", {"id": b, "title": two}, "entered"),
            frame("live-articles", "create", {"id": c, "title": three}, "entered"),
            frame("live-articles", "update", {"id": a, "title": "uno"}),
            frame("live-articles", "update", {"id": b, "title": two}),
            frame("live-articles", "delete", {"id": a, "title": "uno"}),
            frame("live-articles", "delete", {"id": c, "title": three}),
        ]
    assert_nothing_more(*sockets)
    for sock in sockets:
        sock.close()


def test_a_stream_whose_meta_turns_bulk_writes_off_hears_saves_only(server):
    author = new_author(server)
    plain, quiet = Socket(server), Socket(server)
    asked = [
        (plain, "articleSubscription", ["ID", "TITLE"]),
        (quiet, "articleDetailSubscription", ["ID", "TITLE"]),
    ]
    at_once(
        2, lambda n: subscribe(server, asked[n][0], field=asked[n][1], action="ALL_ACTIONS", data=asked[n][2])
    )
    bulk, saved = unique("bulk"), unique("saved")
    made = run(
        server,
        [
            {"bulk_create": "article", "as": {"a": {"title": bulk, "author_id": author}}},
            {"update_where": ["a"], "set": {"status": "live"}},
            {"create": "article", "as": "b", "set": {"title": saved, "author_id": author}},
            {"delete_where": ["a"]},
        ],
    )
    assert [plain.recv() for _ in range(4)] == [
        frame("articles", "create", {"id": made["a"], "title": bulk}),
        frame("articles", "update", {"id": made["a"], "title": bulk}),
        frame("articles", "create", {"id": made["b"], "title": saved}),
        frame("articles", "delete", {"id": made["a"], "title": bulk}),
    ]
    # A delete of many is heard either way: Django sends each row's delete signals.
    assert [quiet.recv() for _ in range(2)] == [
        frame("article-details", "create", {"id": made["b"], "title": saved}),
        frame("article-details", "delete", {"id": made["a"], "title": bulk}),
    ]
    assert_nothing_more(plain, quiet)
    plain.close()
    quiet.close()


@pytest.fixture(scope="module")
def few_rows(limited_server):
    return limited_server("few-bulk-rows", BULK_WRITE_MAX_CHANGES=2)


def resync(stream, count):
    """The whole frame that tells a 2018 subscriber to refetch ``stream``: a bulk write of ``count`` rows."""
    return {"stream": stream, "payload": {"action": "resync", "model": MODEL, "data": None, "count": count}}


def test_a_bulk_write_of_more_rows_than_the_limit_sends_each_subscriber_one_resync(few_rows):
    server = few_rows
    alice = new_author(server)
    old_title = unique("old")
    made = run(
        server,
        [
            {"create": "article", "as": "x", "set": {"title": old_title, "author_id": alice}},
            {"create": "article", "as": "y", "set": {"title": unique("y"), "author_id": alice}},
        ],
    )
    old = made["x"]
    every = [Socket(server) for _ in range(3)]  # each in three groups (create, update, delete): told once
    updates, one, other, by_alice, live, users, details = (Socket(server) for _ in range(7))
    asked = [(sock, dict(field="articleSubscription", action="ALL_ACTIONS")) for sock in every]
    asked += [
        (updates, dict(field="articleSubscription", action="UPDATE")),
        # Subscribers of one object (at most two objects are followed so: the limit) hear its own change.
        (one, dict(field="articleSubscription", action="ALL_ACTIONS", id=old)),
        (other, dict(field="articleSubscription", action="ALL_ACTIONS", id=made["y"])),
        (
            by_alice,
            dict(field="filteredArticleSubscription", action="ALL_ACTIONS", filters={"author": str(alice)}),
        ),
        (live, dict(field="liveArticleSubscription", action="ALL_ACTIONS")),
        (users, dict(field="userSubscription", action="ALL_ACTIONS", data=["ID"])),
        (details, dict(field="articleDetailSubscription", action="ALL_ACTIONS")),  # Meta.bulk_writes = False
    ]
    at_once(len(asked), lambda n: subscribe(server, asked[n][0], **{"data": ["ID", "TITLE"], **asked[n][1]}))
    titles = {name: unique(name) for name in "abc"}
    made = run(
        server,
        [
            {"load": "article", "pk": old, "as": "x"},
            {
                "bulk_create": "article",
                "as": {name: {"title": title, "author_id": alice} for name, title in titles.items()},
            },
            {"update_where": ["a", "b", "c", "x"], "set": {"status": "live"}},
            {
                "bulk_update": {"a": {"title": "uno"}, "b": {"title": "dos"}},
                "fields": ["title"],
            },  # within the limit
            {"delete_where": ["a", "b", "c"]},
        ],
    )
    a, b, c = made["a"], made["b"], made["c"]
    for sock in [*every, updates]:
        assert [sock.recv(), sock.recv()] == [resync("articles", 3), resync("articles", 4)]
    assert one.recv() == frame("articles", "update", {"id": old, "title": old_title})
    for sock in every + [updates]:
        assert [sock.recv(), sock.recv()] == [
            frame("articles", "update", {"id": a, "title": "uno"}),
            frame("articles", "update", {"id": b, "title": "dos"}),
        ]
    for sock in [*every, updates]:
        assert sock.recv() == resync("articles", 3)  # the delete of three
    # A stream that does not hear bulk writes hears each deleted row, as ever.
    assert in_delete_order([details.recv() for _ in range(3)]) == [
        frame("article-details", "delete", {"id": a, "title": "uno"}),
        frame("article-details", "delete", {"id": b, "title": "dos"}),
        frame("article-details", "delete", {"id": c, "title": titles["c"]}),
    ]
    assert [by_alice.recv() for _ in range(5)] == [
        resync("filtered-articles", 3),
        resync("filtered-articles", 4),
        frame("filtered-articles", "update", {"id": a, "title": "uno"}, "updated"),
        frame("filtered-articles", "update", {"id": b, "title": "dos"}, "updated"),
        resync("filtered-articles", 3),
    ]
    # A scope hides rows from its subscribers: they are not told how many were written.
    assert [live.recv() for _ in range(5)] == [
        resync("live-articles", None),
        resync("live-articles", None),
        frame("live-articles", "update", {"id": a, "title": "uno"}),
        frame("live-articles", "update", {"id": b, "title": "dos"}),
        resync("live-articles", None),
    ]
    assert_nothing_more(*every, updates, one, other, by_alice, live, users, details)
    for sock, _ in asked:
        sock.close()


def test_rows_a_cascade_deletes_are_each_heard_once_by_their_streams(server):
    """Deleting an author deletes their articles (``on_delete=CASCADE``): Django sends each row's delete
    signals, so each article's stream hears each delete once, with the row as it was."""
    author, other = new_author(server), new_author(server)
    titles = [unique("first"), unique("second")]
    made = run(
        server,
        [
            {"create": "article", "as": "a", "set": {"title": titles[0], "author_id": author}},
            {"create": "article", "as": "b", "set": {"title": titles[1], "author_id": author}},
            {"create": "article", "as": "c", "set": {"title": unique("kept"), "author_id": other}},
        ],
    )
    every = [Socket(server) for _ in range(2)]
    theirs = Socket(server)
    asked = [(sock, dict(field="articleSubscription", data=["ID", "TITLE"])) for sock in every]
    asked.append(
        (
            theirs,
            dict(field="filteredArticleSubscription", data=["ID", "TITLE"], filters={"author": str(author)}),
        )
    )
    at_once(len(asked), lambda n: subscribe(server, asked[n][0], action="DELETE", **asked[n][1]))
    delete_user(server, author)
    deleted = [{"id": made["a"], "title": titles[0]}, {"id": made["b"], "title": titles[1]}]
    for sock in every:
        assert in_delete_order([sock.recv(), sock.recv()]) == [
            frame("articles", "delete", data) for data in deleted
        ]
    assert in_delete_order([theirs.recv(), theirs.recv()]) == [
        frame("filtered-articles", "delete", data, "deleted") for data in deleted
    ]
    assert_nothing_more(*every, theirs)
    for sock, _ in asked:
        sock.close()


def review(action, pk, title, reviewer):
    data = {"id": pk, "title": title, "reviewer": reviewer}
    return {"stream": "reviews", "payload": {"action": action, "model": "testproject.review", "data": data}}


def test_rows_a_delete_sets_to_null_are_heard_as_updates(server):
    """Deleting a user sets their reviews' reviewer to null (``on_delete=SET_NULL``): Django writes that
    without a save; each review's stream hears it as an update of each row, once."""
    reviewer, other = new_author(server), new_author(server)
    titles = [unique("review") for _ in range(3)]
    made = run(
        server,
        [
            {"create": "review", "as": "a", "set": {"title": titles[0], "reviewer_id": reviewer}},
            {"create": "review", "as": "b", "set": {"title": titles[1], "reviewer_id": reviewer}},
            {"create": "review", "as": "c", "set": {"title": titles[2], "reviewer_id": other}},
        ],
    )
    sockets = [Socket(server) for _ in range(3)]
    actions = ["ALL_ACTIONS", "UPDATE", "DELETE"]
    at_once(3, lambda n: subscribe(server, sockets[n], field="reviewSubscription", action=actions[n]))
    delete_user(server, reviewer)  # Model.delete()
    heard = [review("update", made["a"], titles[0], None), review("update", made["b"], titles[1], None)]
    for sock in sockets[:2]:
        assert sorted([sock.recv(), sock.recv()], key=lambda one: one["payload"]["data"]["id"]) == heard
    # The same through QuerySet.delete(), itself a bulk write of users.
    last = unique("review")
    gone = new_author(server)
    steps = [
        {"load": "user", "pk": gone, "as": "u"},
        {"create": "review", "as": "d", "set": {"title": last, "reviewer_id": gone}},
        {"delete_where": ["u"]},
    ]
    d = run(server, steps)["d"]
    assert sockets[0].recv() == review("create", d, last, gone)  # ALL_ACTIONS
    for sock in sockets[:2]:
        assert sock.recv() == review("update", d, last, None)
    assert_nothing_more(*sockets)  # the DELETE socket: no review was deleted
    for sock in sockets:
        sock.close()


def note(action, pk, text, notebook):
    data = {"id": pk, "text": text, "notebook": notebook}
    return {"stream": "notes", "payload": {"action": action, "model": "testproject.note", "data": data}}


def in_notebooks(server, kind, rows, books):
    """Make notebooks ``books`` (names) and, in them, the ``kind`` rows ``{name: values}`` (each in the
    notebook named by its name's first letter); ``(notebook ids, row ids)`` by name."""
    made = run(server, [{"create": "notebook", "as": n, "set": {"title": unique("book")}} for n in books])
    steps = [
        {"create": kind, "as": name, "set": {**values, "notebook_id": made[name[0]]}}
        for name, values in rows.items()
    ]
    return made, run(server, steps)


def by_id(sock, count):
    """The next ``count`` frames of a 2018 socket, in the order of their objects' ids."""
    return sorted((sock.recv() for _ in range(count)), key=lambda one: one["payload"]["data"]["id"])


def test_rows_the_database_deletes_with_their_parent_are_heard_as_deletes(server):
    """A notebook's notes go with it: on Django 6.1 the database deletes them (``DB_CASCADE``, no signal, no
    collector), before it Django's collector does (``CASCADE``). Either way the notes' stream hears one
    delete per note, as the note was."""
    texts = {name: unique("note") for name in ("a1", "a2", "b1", "c1")}
    books, notes = in_notebooks(server, "note", {name: {"text": text} for name, text in texts.items()}, "abc")
    sockets = [Socket(server) for _ in range(3)]
    actions = ["ALL_ACTIONS", "DELETE", "UPDATE"]
    at_once(3, lambda n: subscribe(server, sockets[n], field="noteSubscription", action=actions[n]))

    def heard(*names):
        return [note("delete", notes[name], texts[name], books[name[0]]) for name in names]

    run(server, [{"load": "notebook", "pk": books["a"], "as": "a"}, {"delete": "a"}])  # Model.delete()
    for sock in sockets[:2]:
        assert by_id(sock, 2) == heard("a1", "a2")
    # QuerySet.delete() of two notebooks.
    steps = [*({"load": "notebook", "pk": books[n], "as": n} for n in "bc"), {"delete_where": ["b", "c"]}]
    run(server, steps)
    for sock in sockets[:2]:
        assert by_id(sock, 2) == heard("b1", "c1")
    assert_nothing_more(*sockets)  # the UPDATE socket: no note was changed
    for sock in sockets:
        sock.close()


def bookmark(action, pk, page, notebook):
    data = {"id": pk, "page": page, "notebook": notebook}
    return {
        "stream": "bookmarks",
        "payload": {"action": action, "model": "testproject.bookmark", "data": data},
    }


def test_rows_the_database_sets_to_null_with_their_parent_gone_are_heard_as_updates(server):
    """A notebook's bookmarks stay when it goes, pointing nowhere: on Django 6.1 the database sets them to null
    (``DB_SET_NULL``, no signal, no collector), before it Django's collector does (``SET_NULL``). Either way
    the bookmarks' stream hears one update per bookmark, as it is now."""
    pages = {"a1": 1, "a2": 2, "b1": 3}
    books, marks = in_notebooks(
        server, "bookmark", {name: {"page": page} for name, page in pages.items()}, "ab"
    )
    sockets = [Socket(server) for _ in range(3)]
    actions = ["ALL_ACTIONS", "UPDATE", "DELETE"]
    at_once(3, lambda n: subscribe(server, sockets[n], field="bookmarkSubscription", action=actions[n]))
    run(server, [{"load": "notebook", "pk": books["a"], "as": "a"}, {"delete": "a"}])
    heard = [bookmark("update", marks[name], pages[name], None) for name in ("a1", "a2")]
    for sock in sockets[:2]:
        assert by_id(sock, 2) == heard
    assert_nothing_more(*sockets)  # b1 kept its notebook; the DELETE socket: no bookmark was deleted
    for sock in sockets:
        sock.close()


def test_above_the_limit_a_subscriber_of_one_object_hears_its_own_updates_and_delete(few_rows):
    """A ``bulk_update()``, a ``QuerySet.delete()`` and the nulls a delete sets, each of more rows than the
    limit: the subscribers of one of those objects hear its own changes, one of an object left alone nothing,
    the others one RESYNC each."""
    server = few_rows
    alice = new_author(server)
    titles = {name: unique(name) for name in "abcd"}
    made = run(
        server,
        [{"create": "article", "as": n, "set": {"title": t, "author_id": alice}} for n, t in titles.items()],
    )
    books, marks = in_notebooks(
        server, "bookmark", {"e1": {"page": 1}, "e2": {"page": 2}, "e3": {"page": 3}}, "e"
    )
    whole, of_d, marks_whole, of_e2 = (Socket(server) for _ in range(4))
    of_a = [Socket(server) for _ in range(2)]
    asked = [
        (whole, "articleSubscription", None),
        (of_d, "articleSubscription", made["d"]),  # not written
        *((sock, "articleSubscription", made["a"]) for sock in of_a),
        (marks_whole, "bookmarkSubscription", None),
        (of_e2, "bookmarkSubscription", marks["e2"]),
    ]
    at_once(
        len(asked),
        lambda n: subscribe(
            server,
            asked[n][0],
            field=asked[n][1],
            action="ALL_ACTIONS",
            **({"data": ["ID", "TITLE"]} if asked[n][1] == "articleSubscription" else {}),
            **({} if asked[n][2] is None else {"id": asked[n][2]}),
        ),
    )
    steps = [
        *({"load": "article", "pk": made[name], "as": name} for name in "abc"),
        {
            "bulk_update": {"a": {"title": "uno"}, "b": {"title": "dos"}, "c": {"title": "tres"}},
            "fields": ["title"],
        },
        {"delete_where": ["a", "b", "c"]},
        {"load": "notebook", "pk": books["e"], "as": "e"},
        {"delete": "e"},  # its three bookmarks point nowhere now
    ]
    run(server, steps)
    assert [whole.recv(), whole.recv()] == [resync("articles", 3), resync("articles", 3)]
    for sock in of_a:
        assert [sock.recv(), sock.recv()] == [
            frame("articles", "update", {"id": made["a"], "title": "uno"}),
            frame("articles", "delete", {"id": made["a"], "title": "uno"}),
        ]
    assert marks_whole.recv() == {
        "stream": "bookmarks",
        "payload": {"action": "resync", "model": "testproject.bookmark", "data": None, "count": 3},
    }
    assert of_e2.recv() == bookmark("update", marks["e2"], 2, None)
    assert_nothing_more(whole, of_d, *of_a, marks_whole, of_e2)
    for sock, *_ in asked:
        sock.close()


def test_a_delete_of_more_rows_than_the_limit_loads_only_the_rows_of_objects_followed_one_by_one(few_rows):
    """Django's collector loads every row of a model whose delete signals anybody listens to. A big delete
    tells the streams to resync: the package's own receivers have nothing to report then, and do not count,
    so the rows go without being loaded; but for those of objects followed one by one, judged first."""
    server = few_rows
    pages = {"f1": 1, "f2": 2, "f3": 3}
    books, marks = in_notebooks(
        server, "bookmark", {name: {"page": page} for name, page in pages.items()}, "f"
    )
    whole, of_f2 = Socket(server), Socket(server)
    asked = [(whole, {}), (of_f2, {"id": marks["f2"]})]
    at_once(
        2,
        lambda n: subscribe(
            server, asked[n][0], field="bookmarkSubscription", action="ALL_ACTIONS", **asked[n][1]
        ),
    )
    steps = [{"load": "bookmark", "pk": marks[name], "as": name} for name in pages]
    answer = post(server, "/testing/changes/", {"steps": [*steps, {"delete_where": list(pages)}]})
    assert answer["loaded"] == {"testproject.Bookmark": 1}  # f2's row, judged before the delete
    assert whole.recv() == {
        "stream": "bookmarks",
        "payload": {"action": "resync", "model": "testproject.bookmark", "data": None, "count": 3},
    }
    assert of_f2.recv() == bookmark("delete", marks["f2"], 2, books["f"])
    assert_nothing_more(whole, of_f2)
    whole.close()
    of_f2.close()
