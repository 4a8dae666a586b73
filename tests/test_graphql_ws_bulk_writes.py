"""The ORM's bulk writes over graphql-transport-ws: heard live as saves are, through filters and per-recipient
rules, and replayed from the change log to a subscription that resumes before them."""

import json

import pytest

from support.article_feed import (
    bulk_writes,
    close,
    cursor_now,
    new_author,
    next_message,
    nothing_more,
    position,
    received,
    resume,
    resumed,
    run,
)
from support.client import at_once, unique, wait_for
from support.graphql_ws_client import WsSocket, operations_on

ARTICLES = "subscription { articleChanges { action cursor data { id title } } }"
BY_AUTHOR = 'subscription { filteredArticleChanges(author: "%s") { action cause data { id title author } } }'
PUBLIC = "subscription { publicArticleChanges { action cause data { id title } } }"


def event(field, action, cause, data):
    return {
        "id": "1",
        "type": "next",
        "payload": {"data": {field: {"action": action, "cause": cause, "data": data}}},
    }


def test_bulk_writes_are_heard_live_through_filters_and_rules_and_replayed_alike(server):
    before = operations_on(server)
    alice, bob = new_author(server), new_author(server)
    one, two, three = (unique(word) for word in ("one", "two", "three"))
    every = [WsSocket(server) for _ in range(3)]
    by_alice = [WsSocket(server) for _ in range(2)]
    anonymous = [WsSocket(server) for _ in range(2)]  # the rule shows them live articles only
    documents = [ARTICLES] * len(every) + [BY_AUTHOR % alice] * len(by_alice) + [PUBLIC] * len(anonymous)
    sockets = [*every, *by_alice, *anonymous]
    at_once(len(sockets), lambda n: sockets[n].follow("1", documents[n]))
    cursor = cursor_now(server)
    made = run(server, bulk_writes(alice, bob, one, two, three))
    a, b, c = made["a"], made["b"], made["c"]
    heard = [
        ("CREATE", a, one),
        ("CREATE", b, two),
        ("CREATE", c, three),
        ("UPDATE", a, one),
        ("UPDATE", b, two),
        ("UPDATE", c, three),
        ("UPDATE", a, "uno"),
        ("UPDATE", b, two),
        ("DELETE", a, "uno"),
        ("DELETE", c, three),
    ]
    for sock in every:
        assert received(sock, "1", 10) == heard
    field = "filteredArticleChanges"
    for sock in by_alice:
        assert [sock.recv() for _ in range(7)] == [
            event(field, "CREATE", "CREATED", {"id": a, "title": one, "author": alice}),
            event(field, "CREATE", "CREATED", {"id": b, "title": two, "author": alice}),
            event(field, "UPDATE", "UPDATED", {"id": a, "title": one, "author": alice}),
            event(field, "UPDATE", "UPDATED", {"id": b, "title": two, "author": alice}),
            event(field, "UPDATE", "UPDATED", {"id": a, "title": "uno", "author": alice}),
            event(field, "DELETE", "LEFT", {"id": b, "title": two, "author": bob}),
            event(field, "DELETE", "DELETED", {"id": a, "title": "uno", "author": alice}),
        ]
    field = "publicArticleChanges"
    for sock in anonymous:
        assert [sock.recv() for _ in range(7)] == [
            event(field, "CREATE", "ENTERED", {"id": a, "title": one}),
            event(field, "CREATE", "ENTERED", {"id": b, "title": two}),
            event(field, "CREATE", "ENTERED", {"id": c, "title": three}),
            event(field, "UPDATE", "UPDATED", {"id": a, "title": "uno"}),
            event(field, "UPDATE", "UPDATED", {"id": b, "title": two}),
            event(field, "DELETE", "DELETED", {"id": a, "title": "uno"}),
            event(field, "DELETE", "DELETED", {"id": c, "title": three}),
        ]
    late = resumed(server, cursor)
    for sock in late:
        assert received(sock, "1", 10) == heard
    nothing_more(*sockets, *late)
    close([*sockets, *late])
    wait_for(lambda: operations_on(server) <= before)  # the next test counts the server's operations


@pytest.fixture(scope="module")
def few_rows(limited_server):
    return limited_server("few-bulk-rows-ws", BULK_WRITE_MAX_CHANGES=2)


def resync(field, count, cursor, id="1"):
    """The whole ``next`` message of a RESYNC a bulk write sent (``count`` null where it is not told)."""
    event = {"action": "RESYNC", "cause": None, "count": count, "cursor": cursor, "data": None}
    return {"id": id, "type": "next", "payload": {"data": {field: event}}}


def test_a_bulk_write_of_more_rows_than_the_limit_resyncs_each_operation_once_live_and_on_resume(few_rows):
    server = few_rows
    alice = new_author(server)
    selection = "action cause count cursor data { id title }"
    documents = [
        "subscription { articleChanges { %s } }" % selection,
        "subscription { articleChanges(action: UPDATE) { %s } }" % selection,
        'subscription { filteredArticleChanges(author: "%s") { %s } }' % (alice, selection),
        "subscription { liveArticleChanges { %s } }" % selection,
    ]
    fields = ["articleChanges", "articleChanges", "filteredArticleChanges", "liveArticleChanges"]
    sockets = [WsSocket(server) for _ in documents]
    at_once(len(sockets), lambda n: sockets[n].follow("1", documents[n]))
    both = WsSocket(server)  # two operations of one socket: each told
    both.follow("1", documents[0])
    both.follow("2", documents[1])
    cursor = cursor_now(server)
    titles = {name: unique(name) for name in "abc"}
    run(
        server,
        [{"bulk_create": "article", "as": {n: {"title": t, "author_id": alice} for n, t in titles.items()}}],
    )
    heard = [sock.recv() for sock in sockets]
    # Each stream logs its own RESYNC: its own cursor. A scope hides rows: its subscribers get no count.
    cursors = [message["payload"]["data"][field]["cursor"] for message, field in zip(heard, fields)]
    assert heard == [
        resync(field, None if field == "liveArticleChanges" else 3, at) for field, at in zip(fields, cursors)
    ]
    at = cursors[0]
    assert cursors[1] == at
    assert sorted([both.recv(), both.recv()], key=lambda message: message["id"]) == [
        resync("articleChanges", 3, at, id="1"),
        resync("articleChanges", 3, at, id="2"),
    ]
    # A subscription resuming from before it hears one RESYNC (the gap's: no count), then goes live.
    late = WsSocket(server)
    late.subscribe("1", "subscription { articleChanges(after: %s) { %s } }" % (json.dumps(cursor), selection))
    replayed = late.recv()
    through = replayed["payload"]["data"]["articleChanges"]["cursor"]  # the log's last position then
    assert position(through) >= position(at)
    assert replayed == {
        "id": "1",
        "type": "next",
        "payload": {"data": {"articleChanges": {"action": "RESYNC", "cause": None, "count": None,
                                                 "cursor": through, "data": None}}},
    }  # fmt: skip
    nothing_more(*sockets, both, late)
    close([*sockets, both, late])


def test_above_the_limit_a_subscriber_of_one_object_hears_its_own_change_live_and_on_resume(few_rows):
    server = few_rows
    alice = new_author(server)
    made = run(
        server,
        [
            {
                "create": "article",
                "as": name,
                "set": {"title": unique(name), "author_id": alice, "status": "live"},
            }
            for name in "xyz"
        ],
    )
    x, y, z = made["x"], made["y"], made["z"]
    selection = "action cause count cursor data { id title }"
    of = 'subscription { %s(id: "%s"%s) { %s } }'
    whole = WsSocket(server)
    of_x = [WsSocket(server) for _ in range(2)]
    of_y = WsSocket(server)  # y is not written: it hears nothing
    public_x = WsSocket(server)  # anonymous: the rule shows it live articles, as x is
    documents = [
        (whole, "subscription { articleChanges { %s } }" % selection),
        *((sock, of % ("articleChanges", x, "", selection)) for sock in of_x),
        (of_y, of % ("articleChanges", y, "", selection)),
        (public_x, of % ("publicArticleChanges", x, "", selection)),
    ]  # two objects followed one by one (x on two streams, y): within the limit of two
    at_once(len(documents), lambda n: documents[n][0].follow("1", documents[n][1]))
    cursor = cursor_now(server)
    titles = {name: unique(name) for name in "abc"}
    big = unique("big")
    written = run(
        server,
        [
            {"load": "article", "pk": x, "as": "x"},
            {
                "bulk_create": "article",
                "as": {n: {"title": t, "author_id": alice} for n, t in titles.items()},
            },
            {"update_where": ["a", "b", "c", "x"], "set": {"title": big}},
        ],
    )
    first, second = whole.recv(), whole.recv()
    at = [message["payload"]["data"]["articleChanges"]["cursor"] for message in (first, second)]
    assert [first, second] == [resync("articleChanges", 3, at[0]), resync("articleChanges", 4, at[1])]

    def change(field, cursor):
        event = {
            "action": "UPDATE",
            "cause": "UPDATED",
            "count": None,
            "cursor": cursor,
            "data": {"id": x, "title": big},
        }
        return {"id": "1", "type": "next", "payload": {"data": {field: event}}}

    heard = [sock.recv() for sock in of_x]
    mine = heard[0]["payload"]["data"]["articleChanges"]["cursor"]
    assert position(at[0]) < position(mine) < position(at[1])  # logged with the update, before its RESYNC
    assert heard == [change("articleChanges", mine)] * 2
    shown = public_x.recv()
    assert shown == change("publicArticleChanges", shown["payload"]["data"]["publicArticleChanges"]["cursor"])
    # Resuming from before: a subscriber of x replays x's change, one of y nothing, the others a RESYNC.
    late_x, late_y, late = WsSocket(server), WsSocket(server), WsSocket(server)
    after = ", after: %s" % json.dumps(cursor)
    resumes = [
        (late_x, of % ("articleChanges", x, after, selection)),
        (late_y, of % ("articleChanges", y, after, selection)),
        (late, "subscription { articleChanges(%s) { %s } }" % (after[2:], selection)),
    ]
    at_once(len(resumes), lambda n: resume(resumes[n][0], "1", resumes[n][1]))
    assert next_message(late_x) == change("articleChanges", mine)
    replayed = next_message(late)
    assert replayed["payload"]["data"]["articleChanges"]["action"] == "RESYNC", replayed
    nothing_more(whole, *of_x, of_y, public_x, late_x, late_y, late)
    # Now three objects are followed one by one (z too): more than the limit, so everybody resyncs.
    of_z = WsSocket(server)
    of_z.follow("1", of % ("articleChanges", z, "", selection))
    again = [
        {"load": "article", "pk": pk, "as": name} for name, pk in zip("abx", (written["a"], written["b"], x))
    ]
    run(server, [*again, {"update_where": ["a", "b", "x"], "set": {"title": big}}])
    sockets = [whole, *of_x, of_y, late_x, late_y, late, of_z]
    heard = [sock.recv() for sock in sockets]
    at = heard[0]["payload"]["data"]["articleChanges"]["cursor"]
    assert heard == [resync("articleChanges", 3, at)] * len(sockets)
    shown = public_x.recv()
    at = shown["payload"]["data"]["publicArticleChanges"]["cursor"]  # each stream logs its own RESYNC
    assert shown == resync("publicArticleChanges", None, at)
    nothing_more(*sockets, public_x)
    close([*sockets, public_x])
