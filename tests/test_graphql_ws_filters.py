"""Filtered subscriptions over graphql-transport-ws: ``filteredArticleChanges(author: ..., title_Icontains: ...)``.

Relative to its filter, an object that starts matching arrives as CREATE
(cause ENTERED), one that stops matching leaves as DELETE (cause LEFT), a
change while it matches is an UPDATE, a real create or delete of a matching
object is a CREATE or DELETE. Whether a change matches is decided from the
object as that change committed it and as it found it. A client that applies
the actions to a list holds what the filter's query returns.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.article_feed import cursor_now, new_author, next_message, nothing_more, resume, run
from support.client import assert_nothing_more, at_once, create_group, new_login, post, unique
from support.docs import snippet
from support.filter_lists import CHANGE, camel, keep, open_lists, save_and_check
from support.graphql_ws_client import WsSocket
from support.servers import SMALL

FIELD = "filteredArticleChanges"
SELECTION = "action cause data { id title author status published publishedOn }"


def follow(sock, arguments, id="1", **options):
    """Subscribe ``sock`` with ``arguments`` (``{python name: value}``) and wait until it is served."""
    sock.follow(id, subscription(arguments, **options))


def subscription(arguments, field=FIELD, selection=SELECTION, action=None):
    """The document of a subscription to ``field`` with filter ``arguments`` (and ``action``, if given)."""
    written = [f"{camel(name)}: {json.dumps(value)}" for name, value in arguments.items()]
    if action is not None:
        written.insert(0, f"action: {action}")
    return "subscription { %s%s { %s } }" % (field, f"({', '.join(written)})" if written else "", selection)


def article(pk, title, author, status="draft", published=None, published_on=None):
    return {
        "id": pk,
        "title": title,
        "author": author,
        "status": status,
        "published": published,
        "publishedOn": published_on,
    }


def change(action, cause, data, id="1", field=FIELD):
    """The whole ``next`` message of one change as a filtered subscription hears it."""
    return {
        "id": id,
        "type": "next",
        "payload": {"data": {field: {"action": action, "cause": cause, "data": data}}},
    }


def test_a_filtered_subscription_hears_an_object_enter_change_leave_and_go(server):
    alice, bob = new_author(server), new_author(server)
    by_alice = [WsSocket(server) for _ in range(3)]
    by_bob = [WsSocket(server) for _ in range(3)]
    everyone = WsSocket(server)
    followers = [(sock, {"author": str(alice)}) for sock in by_alice]
    followers += [(sock, {"author__in": [str(bob), "999999"]}) for sock in by_bob] + [(everyone, {})]
    at_once(len(followers), lambda n: follow(*followers[n]))
    pk = run(
        server,
        [
            {"create": "article", "as": "a", "set": {"title": "one", "author_id": alice}},
            {"update": "a", "set": {"title": "two"}},
            {"update": "a", "set": {"author_id": bob}},  # leaves alice's filter, enters bob's
            {"update": "a", "set": {"title": "three"}},
            {"delete": "a"},
        ],
    )["a"]
    for sock in by_alice:
        assert [sock.recv() for _ in range(3)] == [
            change("CREATE", "CREATED", article(pk, "one", alice)),
            change("UPDATE", "UPDATED", article(pk, "two", alice)),
            change("DELETE", "LEFT", article(pk, "two", bob)),
        ]
    for sock in by_bob:
        assert [sock.recv() for _ in range(3)] == [
            change("CREATE", "ENTERED", article(pk, "two", bob)),
            change("UPDATE", "UPDATED", article(pk, "three", bob)),
            change("DELETE", "DELETED", article(pk, "three", bob)),
        ]
    assert [everyone.recv() for _ in range(5)] == [
        change("CREATE", "CREATED", article(pk, "one", alice)),
        change("UPDATE", "UPDATED", article(pk, "two", alice)),
        change("UPDATE", "UPDATED", article(pk, "two", bob)),
        change("UPDATE", "UPDATED", article(pk, "three", bob)),
        change("DELETE", "DELETED", article(pk, "three", bob)),
    ]
    assert_nothing_more(*by_alice, *by_bob, everyone)
    for sock, _ in followers:
        sock.close()


def test_a_filter_on_one_action_hears_that_action_as_it_reads_to_the_filter(server):
    """``action: DELETE`` hears deletes and objects leaving; ``action: CREATE`` creates and objects entering."""
    alice, bob = new_author(server), new_author(server)
    leaving, entering = WsSocket(server), WsSocket(server)
    selection = "action cause data { id author }"
    follow(leaving, {"author": str(alice)}, selection=selection, action="DELETE")
    follow(entering, {"author": str(bob)}, selection=selection, action="CREATE")
    pk = run(
        server,
        [
            {"create": "article", "as": "a", "set": {"title": "x", "author_id": alice}},
            {"update": "a", "set": {"author_id": bob}},
        ],
    )["a"]
    # It follows DELETE only: the create is not for it.
    assert leaving.recv() == change("DELETE", "LEFT", {"id": pk, "author": bob})
    assert entering.recv() == change("CREATE", "ENTERED", {"id": pk, "author": bob})
    assert_nothing_more(leaving, entering)
    leaving.close()
    entering.close()


# -- Every lookup, against the database's own answer ---------------------------------------------------

#: The ChangesField of each stream the lists follow.
CHANGES_FIELDS = {
    "filtered-articles": "filteredArticleChanges",
    "filterset-articles": "filterSetArticleChanges",
    "live-articles": "liveArticleChanges",
    "public-articles": "publicArticleChanges",
    "queried-articles": "queriedArticleChanges",
    "dated-articles": "datedArticleChanges",
}


class FilteredList:
    """A socket that follows one filter, and the list it keeps from the actions alone."""

    def __init__(self, server, stream, arguments):
        self.stream, self.arguments = stream, arguments
        self.field = CHANGES_FIELDS[stream]
        self.sock = WsSocket(server)
        follow(self.sock, arguments, field=self.field, selection="action cause data { id }")
        self.sock.follow("m", "subscription { markerChanges(action: CREATE) { data { label } } }")
        self.ids = set()

    def read_until(self, label):
        """Apply every event up to the marker ``label`` (the server sends in commit order)."""
        while True:
            message = self.sock.recv()
            if message["id"] == "m":
                if message["payload"]["data"]["markerChanges"]["data"]["label"] == label:
                    return
                continue
            event = message["payload"]["data"][self.field]
            pk = event["data"]["id"]
            assert message == change(event["action"], event["cause"], {"id": pk}, field=self.field)
            keep(self.ids, event["action"], event["cause"], pk, (self.stream, self.arguments))


@pytest.fixture(scope="module")
def filtered_lists(server):
    articles, lists = open_lists(server, FilteredList)
    yield articles, lists
    for one in lists:
        one.sock.close()


@settings(max_examples=8 if SMALL else 30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(CHANGE, min_size=1, max_size=8))
def test_a_list_kept_from_the_actions_holds_what_the_filters_query_returns(server, filtered_lists, changes):
    """Creates, updates that move objects in and out, deletes, saved back to back; each lookup kind."""
    save_and_check(server, *filtered_lists, changes)


# -- Refusals, resuming, the arguments, a client nobody here wrote ------------------------------------


def test_bad_filters_are_refused_whole_and_the_socket_serves_on(server):
    sock = WsSocket(server)
    cases = [
        (
            {"author": "abc"},
            "author: 'abc' is not a value of Article.author (“abc” value must be an integer.).",
        ),
        (
            {"author__in": [str(n) for n in range(101)]},
            "author_In lists 101 values; a filter may list up to 100 (MAX_FILTER_VALUES): follow fewer, or "
            "several subscriptions.",
        ),
        ({"author__in": []}, "author_In is an empty list: give at least one value, or leave it out."),
        (
            {"published_on__range": ["2025-02-01", "2025-01-01", "2025-03-01"]},
            "publishedOn_Range takes two values, the first and the last: [low, high].",
        ),
    ]
    for number, (arguments, message) in enumerate(cases):
        sock.subscribe(str(number), subscription(arguments, selection="action"))
        assert sock.recv() == {
            "id": str(number),
            "type": "error",
            "payload": [{"message": message, "locations": [{"line": 1, "column": 16}]}],
        }
    sock.subscribe("id", 'subscription { filteredArticleChanges(id: "1", author: "1") { action } }')
    assert sock.recv() == {
        "id": "id",
        "type": "error",
        "payload": [
            {
                "message": "A filter and an id cannot be combined: the id follows one object whatever it holds, "
                "a filter follows every object that matches it. Leave one of them out."
            }
        ],
    }
    sock.subscribe("typed", 'subscription { filteredArticleChanges(published_Year: "2025") { action } }')
    assert sock.recv() == {
        "id": "typed",
        "type": "error",
        "payload": [
            {
                "message": 'Int cannot represent non-integer value: "2025"',
                "locations": [{"line": 1, "column": 55}],
            }
        ],
    }
    alice = new_author(server)
    follow(sock, {"author": str(alice)}, id="ok", selection="action cause")
    run(server, [{"create": "article", "as": "a", "set": {"title": "x", "author_id": alice}}])
    assert sock.recv() == {
        "id": "ok",
        "type": "next",
        "payload": {"data": {FIELD: {"action": "CREATE", "cause": "CREATED"}}},
    }
    assert_nothing_more(sock)
    sock.close()


QUERIED = "queriedArticleChanges"


def test_filters_only_a_query_can_judge_hear_enter_and_leave_live_and_resuming(server):
    # queried-articles filters on the author's username (across a relation) and a regular expression:
    # the database judges them in the saving transaction, before and after each change, and the log
    # keeps what it said. Resuming, a filter that was followed through the gap hears the same events;
    # one nobody followed then was never asked, and gets a RESYNC.
    name = unique("writer")
    alice, bob = post(server, "/testing/user/", {"username": name})["id"], new_author(server)
    arguments = {"author__username": name, "title__regex": "^o"}
    live = [WsSocket(server) for _ in range(3)]
    selection = "action cause data { id title author }"
    at_once(len(live), lambda n: follow(live[n], arguments, field=QUERIED, selection=selection))
    cursor = cursor_now(server)
    steps = [
        {"create": "article", "as": "a", "set": {"title": "one", "author_id": alice}},
        {"update": "a", "set": {"title": "two"}},  # leaves: no longer ^o
        {"update": "a", "set": {"title": "once", "author_id": bob}},  # not by the writer: nothing
        {"update": "a", "set": {"author_id": alice}},  # enters
        {"delete": "a"},
    ]
    pk = run(server, steps)["a"]
    expected = [
        ("CREATE", "CREATED", {"id": pk, "title": "one", "author": alice}),
        ("DELETE", "LEFT", {"id": pk, "title": "two", "author": alice}),
        ("CREATE", "ENTERED", {"id": pk, "title": "once", "author": alice}),
        ("DELETE", "DELETED", {"id": pk, "title": "once", "author": alice}),
    ]
    for sock in live:
        assert [sock.recv() for _ in expected] == [change(*event, field=QUERIED) for event in expected]
    assert_nothing_more(*live)
    selection = "action cause replayed cursor data { id title author }"
    unfollowed = {"author__username": name, "title__regex": "^t"}
    # Nobody followed it either, but its exact part (judged in Python) matches none of the changes.
    live_only = {"status": "live", "title__regex": "^o"}
    queries = [
        subscription(chosen, field=QUERIED, selection=selection).replace("(", f'(after: "{cursor}", ', 1)
        for chosen in (arguments, unfollowed, live_only)
    ]
    resuming = [WsSocket(server) for _ in range(6)]
    at_once(len(resuming), lambda n: resume(resuming[n], "1", queries[n % 3]))
    assert_replayed(resuming[0::3], QUERIED, expected)
    nothing_more(*resuming[2::3])
    for sock in resuming[1::3]:
        message = next_message(sock)
        event = message["payload"]["data"][QUERIED]
        resync = {
            "action": "RESYNC",
            "cause": None,
            "replayed": True,
            "cursor": event["cursor"],
            "data": None,
        }
        assert message == {"id": "1", "type": "next", "payload": {"data": {QUERIED: resync}}}
    nothing_more(*resuming)
    for sock in live + resuming:
        sock.close()


def test_a_pattern_that_is_no_regular_expression_is_refused_and_the_socket_serves_on(server):
    sock = WsSocket(server)
    sock.subscribe("bad", subscription({"title__regex": "(b"}, field=QUERIED, selection="action"))
    assert sock.recv() == {
        "id": "bad",
        "type": "error",
        "payload": [
            {
                "message": "title_Regex: '(b' is no regular expression (missing ), unterminated subpattern at "
                "position 0).",
                "locations": [{"line": 1, "column": 16}],
            }
        ],
    }
    alice = new_author(server)
    follow(sock, {"author": str(alice)}, id="ok", selection="action cause")
    run(server, [{"create": "article", "as": "a", "set": {"title": "x", "author_id": alice}}])
    assert sock.recv() == change("CREATE", "CREATED", None, id="ok") | {
        "payload": {"data": {FIELD: {"action": "CREATE", "cause": "CREATED"}}}
    }
    assert_nothing_more(sock)
    sock.close()


def assert_replayed(sockets, field, expected):
    """Each of ``sockets`` is sent ``expected`` (``(action, cause, data)``), replayed, each whole; nothing more."""
    for sock in sockets:
        for action, cause, data in expected:
            message = next_message(sock)
            cursor = message["payload"]["data"][field]["cursor"]
            event = {"action": action, "cause": cause, "replayed": True, "cursor": cursor, "data": data}
            assert message == {"id": "1", "type": "next", "payload": {"data": {field: event}}}
    nothing_more(*sockets)


def test_a_filtered_subscription_resumes_with_what_entered_and_left_meanwhile(server):
    alice, bob = new_author(server), new_author(server)
    selection = "action cause replayed cursor data { id title }"
    first = WsSocket(server)
    follow(first, {"author": str(alice)}, selection=selection)
    pk = run(server, [{"create": "article", "as": "a", "set": {"title": "one", "author_id": alice}}])["a"]
    cursor = first.recv()["payload"]["data"][FIELD]["cursor"]
    first.close()
    other = run(
        server,
        [
            {"load": "article", "pk": pk, "as": "a"},
            {"update": "a", "set": {"author_id": bob}},  # leaves
            {"create": "article", "as": "b", "set": {"title": "two", "author_id": bob}},  # not for it
            {"update": "b", "set": {"author_id": alice}},  # enters
            {"update": "b", "set": {"title": "three"}},
            {"delete": "b"},
        ],
    )["b"]
    resuming = [WsSocket(server) for _ in range(3)]
    query = subscription({"author": str(alice)}, selection=selection).replace(
        "(author", f'(after: "{cursor}", author'
    )
    at_once(len(resuming), lambda n: resume(resuming[n], "1", query))
    expected = [
        ("DELETE", "LEFT", {"id": pk, "title": "one"}),
        ("CREATE", "ENTERED", {"id": other, "title": "two"}),
        ("UPDATE", "UPDATED", {"id": other, "title": "three"}),
        ("DELETE", "DELETED", {"id": other, "title": "three"}),
    ]
    assert_replayed(resuming, FIELD, expected)
    for sock in resuming:
        sock.close()


def test_the_arguments_are_those_djangofilterconnectionfield_gives_for_the_same_declaration():
    import graphene
    from graphene import relay
    from graphene_django import DjangoObjectType
    from graphene_django.filter import DjangoFilterConnectionField
    from graphene_django.registry import Registry

    from testproject.models import Article
    from testproject.schema import schema
    from testproject.streams import FilteredArticleSubscription

    class ArticleNode(DjangoObjectType):
        class Meta:
            model = Article
            interfaces = (relay.Node,)
            fields = "__all__"
            filter_fields = FilteredArticleSubscription._meta.filters.filter_fields
            registry = Registry()  # not the project's: its types would change the stream's arguments
            convert_choices_to_enum = False

    class Query(graphene.ObjectType):
        articles = DjangoFilterConnectionField(ArticleNode)

    theirs = graphene.Schema(query=Query).graphql_schema.query_type.fields["articles"].args
    ours = schema.graphql_schema.subscription_type.fields[FIELD].args
    date_parts = {"published_Year", "publishedOn_Month", "publishedOn_Day"}
    connection = {"offset", "before", "after", "first", "last"}
    assert {
        name: str(arg.type)
        for name, arg in ours.items()
        if name not in {"action", "id", "after"} | date_parts
    } == {name: str(arg.type) for name, arg in theirs.items() if name not in connection | date_parts}
    # graphene-django types a year as the field's own type (DateTime), which no year is: ours are Int.
    assert {name: str(ours[name].type) for name in date_parts} == dict.fromkeys(date_parts, "Int")


def test_the_npm_graphql_ws_client_follows_a_filter(server):
    from test_graphql_ws_clients import admin_token, node_client

    prefix = unique("team")
    admin = {"path": "/graphql-token/", "connection_params": {"token": admin_token(server)}}
    create = 'mutation { createGroup(newGroup: {name: "%s"}) { ok group { id } } }' % unique("other")
    pk = int(
        node_client(server, [{"run": create}], **admin)["steps"][0]["data"]["createGroup"]["group"]["id"]
    )
    rename = 'mutation { updateGroup(newGroup: {id: %s, name: "%%s"}) { ok } }' % pk
    follow_query = (
        'subscription { filteredGroupChanges(name_Startswith: "%s") { action cause data { id name } } }'
        % prefix
    )
    report = node_client(
        server,
        [
            {
                "follow": follow_query,
                "count": 3,
                "then": [rename % f"{prefix}-1", rename % f"{prefix}-2", rename % unique("gone")],
            }
        ],
        **admin,
    )
    events = [
        {
            "data": {
                "filteredGroupChanges": {"action": action, "cause": cause, "data": {"id": pk, "name": name}}
            }
        }
        for action, cause, name in [
            ("CREATE", "ENTERED", f"{prefix}-1"),
            ("UPDATE", "UPDATED", f"{prefix}-2"),
            (
                "DELETE",
                "LEFT",
                report["steps"][0]["events"][2]["data"]["filteredGroupChanges"]["data"]["name"],
            ),
        ]
    ]
    assert report == {
        "steps": [
            {
                "results": [{"data": {"updateGroup": {"ok": True}}}] * 3,
                "events": events,
                "end": {"completed": "by the client"},
            }
        ],
        "closes": [1000],
    }


def test_saves_racing_on_the_same_objects_leave_each_list_as_the_database_holds_it(server):
    """Two requests at once move the same articles between two authors: each change is judged as it committed."""
    alice, bob = new_author(server), new_author(server)
    lists = [
        FilteredList(server, "filtered-articles", {"author": str(author)})
        for author in (alice, bob, alice, bob)
    ]
    made = run(
        server,
        [{"create": "article", "as": f"a{n}", "set": {"title": "t", "author_id": alice}} for n in range(3)],
    )
    pks = list(made.values())

    def move(order):
        steps = []
        for round_number in range(6):
            for index in order:
                name = f"r{round_number}-{index}"
                author = (alice, bob)[(round_number + index) % 2]
                steps += [
                    {"load": "article", "pk": pks[index], "as": name},
                    {"update": name, "set": {"author_id": author}},
                ]
        return run(server, steps)

    at_once(2, lambda n: move([0, 1, 2] if n == 0 else [2, 1, 0]))
    label = unique("marker")
    post(server, "/testing/marker/", {"label": label})
    at_once(len(lists), lambda n: lists[n].read_until(label))
    for one in lists:
        expected = post(
            server, "/testing/filtered/", {"stream": "filtered-articles", "filter": one.arguments}
        )
        assert one.ids == set(expected["ids"]) & set(pks), one.arguments
    for one in lists:
        one.sock.close()


def test_a_filter_on_a_stream_with_a_per_recipient_rule_reaches_only_the_users_it_allows(server):
    prefix, name = unique("p"), unique("team")
    team = create_group(server, name)
    member = new_login(server, "member", groups=[name])
    outsider = new_login(server, "outsider")
    members = [WsSocket(server, cookie=member[3]) for _ in range(2)]
    outsiders = [WsSocket(server, cookie=outsider[3]) for _ in range(2)]
    query = (
        'subscription { filteredTeamChanges(name_Startswith: "%s") { action cause data { id name } } }'
        % prefix
    )
    at_once(4, lambda n: (members + outsiders)[n].follow("1", query))
    steps = [{"load": "group", "pk": team, "as": "g"}]
    for name in (f"{prefix}-1", f"{prefix}-2", unique("gone")):
        steps.append({"update": "g", "set": {"name": name}})
    run(server, steps)
    for sock in members:
        heard = [sock.recv() for _ in range(3)]
        assert [message["payload"]["data"]["filteredTeamChanges"]["cause"] for message in heard] == [
            "ENTERED",
            "UPDATED",
            "LEFT",
        ]
        assert heard[0] == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {
                    "filteredTeamChanges": {
                        "action": "CREATE",
                        "cause": "ENTERED",
                        "data": {"id": team, "name": f"{prefix}-1"},
                    }
                }
            },
        }
    assert_nothing_more(*members, *outsiders)
    for sock in members + outsiders:
        sock.close()


def test_a_scoped_stream_resumes_with_what_entered_and_left_its_scope_meanwhile(server):
    """``Meta.queryset`` holds live articles: one turned draft left it (shown as it last was, live)."""
    author = new_author(server)
    selection = "action cause replayed cursor data { id title status }"
    first = WsSocket(server)
    follow(first, {}, field="liveArticleChanges", selection=selection)
    made = {"title": "one", "author_id": author, "status": "live"}
    pk = run(server, [{"create": "article", "as": "a", "set": made}])["a"]
    cursor = first.recv()["payload"]["data"]["liveArticleChanges"]["cursor"]
    first.close()
    other = run(
        server,
        [
            {"load": "article", "pk": pk, "as": "a"},
            {"update": "a", "set": {"status": "draft", "title": "draft now"}},  # leaves the scope
            {
                "create": "article",
                "as": "b",
                "set": {"title": "two", "author_id": author},
            },  # a draft: not in it
            {"update": "b", "set": {"status": "live"}},  # enters
            {"update": "a", "set": {"title": "still a draft"}},  # outside: nothing
        ],
    )["b"]
    query = subscription({}, field="liveArticleChanges", selection=selection).replace(
        "liveArticleChanges", f'liveArticleChanges(after: "{cursor}")'
    )
    resuming = [WsSocket(server) for _ in range(3)]
    at_once(len(resuming), lambda n: resume(resuming[n], "1", query))
    expected = [
        ("DELETE", "LEFT", {"id": pk, "title": "one", "status": "live"}),
        ("CREATE", "ENTERED", {"id": other, "title": "two", "status": "live"}),
    ]
    assert_replayed(resuming, "liveArticleChanges", expected)
    for sock in resuming:
        sock.close()


def test_the_documented_graphql_transport_ws_filter_works_as_written(example):
    """docs/filters.rst's subscription, on the example project, with several sockets at once."""
    query = snippet("Over graphql-transport-ws::")
    sockets = [WsSocket(example) for _ in range(3)]
    at_once(3, lambda n: sockets[n].follow("1", query))
    name = f"team-{unique('g')}"
    pk = create_group(example, name)
    for sock in sockets:
        assert sock.recv() == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {
                    "groupChanges": {"action": "CREATE", "cause": "CREATED", "data": {"id": pk, "name": name}}
                }
            },
        }
    assert_nothing_more(*sockets, quiet=1.0)  # the example has no marker stream
    for sock in sockets:
        sock.close()
