"""Filtered subscriptions over the 2018 protocol (both engines): the same arguments, enter and leave, refusals.

``filteredArticleSubscription(operation: SUBSCRIBE, action: ALL_ACTIONS, channelId: ..., author: "3")``:
a frame's ``action`` is the change as it reads to the filter, and ``cause`` says why.
"""

import json
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.article_feed import new_author, run
from support.client import (
    Marker2018,
    Socket,
    assert_nothing_more,
    at_once,
    create_group,
    graphql,
    post,
    still_served,
    subscribe,
    subscription_request,
    unique,
)
from support.docs import snippet
from support.filter_lists import CHANGE, camel, keep, open_lists, save_and_check
from support.servers import LEGACY, SMALL

FIELD = "filteredArticleSubscription"
#: Django's own sentence for "abc" as an integer (its quotes changed in Django 3).
NOT_AN_INTEGER = "'abc' value must be an integer." if LEGACY else "“abc” value must be an integer."
STREAM = "filtered-articles"


def frame(action, cause, pk, title, author):
    """The whole frame of one change as a filtered 2018 subscriber (fields ``id``, ``title``, ``author``) gets it."""
    data = {"id": pk, "title": title, "author": author}
    payload = {"action": action, "model": "testproject.article", "data": data, "cause": cause}
    return {"stream": STREAM, "payload": payload}


def follow(server, sock, filters, action="ALL_ACTIONS"):
    subscribe(server, sock, field=FIELD, action=action, data=["ID", "TITLE", "AUTHOR"], filters=filters)


def test_a_filtered_2018_subscription_hears_an_object_enter_change_leave_and_go(server):
    alice, bob = new_author(server), new_author(server)
    by_alice = [Socket(server) for _ in range(3)]
    by_bob = [Socket(server) for _ in range(3)]
    followers = [(sock, {"author": str(alice)}) for sock in by_alice]
    followers += [(sock, {"author_In": [str(bob)]}) for sock in by_bob]
    at_once(len(followers), lambda n: follow(server, *followers[n]))
    pk = run(
        server,
        [
            {"create": "article", "as": "a", "set": {"title": "one", "author_id": alice}},
            {"update": "a", "set": {"title": "two"}},
            {"update": "a", "set": {"author_id": bob}},
            {"update": "a", "set": {"title": "three"}},
            {"delete": "a"},
        ],
    )["a"]
    for sock in by_alice:
        assert [sock.recv() for _ in range(3)] == [
            frame("create", "created", pk, "one", alice),
            frame("update", "updated", pk, "two", alice),
            frame("delete", "left", pk, "two", bob),
        ]
    for sock in by_bob:
        assert [sock.recv() for _ in range(3)] == [
            frame("create", "entered", pk, "two", bob),
            frame("update", "updated", pk, "three", bob),
            frame("delete", "deleted", pk, "three", bob),
        ]
    assert_nothing_more(*by_alice, *by_bob)
    for sock, _ in followers:
        sock.close()


def test_filters_only_a_query_can_judge_hear_objects_enter_change_and_leave(server):
    # The dated-articles stream's FilterSet has a method of its own ("dated") and a filter across a
    # relation ("written_by", the author's username): the database judges them, in the saving
    # transaction, on the row as it was and as it is. Renaming the author is no change of an article.
    name = unique("writer")
    alice, bob = post(server, "/testing/user/", {"username": name})["id"], new_author(server)
    followers = [(Socket(server), {"dated": True}) for _ in range(3)]
    followers += [(Socket(server), {"writtenBy": name}) for _ in range(3)]
    at_once(
        len(followers),
        lambda n: subscribe(
            server,
            followers[n][0],
            field="datedArticleSubscription",
            action="ALL_ACTIONS",
            data=["ID", "TITLE", "AUTHOR"],
            filters=followers[n][1],
        ),
    )
    pk = run(
        server,
        [
            {"create": "article", "as": "a", "set": {"title": "one", "author_id": alice}},
            {"update": "a", "set": {"published_on": "2025-01-01"}},
            {"update": "a", "set": {"author_id": bob}},
            {"update": "a", "set": {"published_on": None}},
            {"load": "user", "pk": alice, "as": "u"},
            {"update": "u", "set": {"username": unique("renamed")}},
            {"delete": "a"},
        ],
    )["a"]

    def heard(action, cause, author):
        data = {"id": pk, "title": "one", "author": author}
        payload = {"action": action, "model": "testproject.article", "data": data, "cause": cause}
        return {"stream": "dated-articles", "payload": payload}

    for sock, _ in followers[:3]:
        assert [sock.recv() for _ in range(3)] == [
            heard("create", "entered", alice),
            heard("update", "updated", bob),
            heard("delete", "left", bob),
        ]
    for sock, _ in followers[3:]:
        assert [sock.recv() for _ in range(3)] == [
            heard("create", "created", alice),
            heard("update", "updated", alice),
            heard("delete", "left", bob),  # as the change left it: a filter is no scope
        ]
    assert_nothing_more(*(sock for sock, _ in followers))
    for sock, _ in followers:
        sock.close()


def test_a_pattern_that_is_no_regular_expression_is_refused(server):
    sock = Socket(server)
    field = "queriedArticleSubscription"
    request = subscription_request(
        field, sock.channel_id, action="ALL_ACTIONS", filters={"title_Regex": "(b"}
    )
    assert graphql(server, request) == {
        "data": {
            field: {
                "ok": False,
                "error": "title_Regex: '(b' is no regular expression (missing ), unterminated subpattern at "
                "position 0).",
                "stream": "queried-articles",
                "operation": "SUBSCRIBE",
                "action": "ALL_ACTIONS",
            }
        }
    }
    still_served(server, sock)
    sock.close()


@pytest.fixture(scope="module")
def few_queried(limited_server):
    return limited_server("few-queried", MAX_QUERIED_FILTERS_PER_STREAM=2)


def test_a_stream_follows_so_many_filters_the_database_judges_and_no_more(few_queried):
    # Each such filter is asked of every change, in the saving request: their number is bounded per
    # stream, whoever follows them. Sockets following the same filter count it once; filters judged
    # in Python do not count.
    server, field = few_queried, "queriedArticleSubscription"
    sockets = [Socket(server) for _ in range(4)]
    chosen = [{"title_Regex": "^a"}, {"title_Regex": "^b"}] * 2
    at_once(
        len(sockets),
        lambda n: subscribe(
            server, sockets[n], field=field, action="ALL_ACTIONS", data=["ID", "TITLE"], filters=chosen[n]
        ),
    )
    request = subscription_request(
        field, sockets[0].channel_id, action="ALL_ACTIONS", filters={"title_Regex": "^c"}
    )
    assert graphql(server, request) == {
        "data": {
            field: {
                "ok": False,
                "error": "Stream 'queried-articles' already follows 2 distinct filters that the database judges "
                "on each change (MAX_QUERIED_FILTERS_PER_STREAM): follow one of those, or filter on the "
                "model's own columns.",
                "stream": "queried-articles",
                "operation": "SUBSCRIBE",
                "action": "ALL_ACTIONS",
            }
        }
    }
    subscribe(
        server,
        sockets[1],
        field=field,
        action="ALL_ACTIONS",
        data=["ID", "TITLE"],
        filters={"status": "live"},
    )
    pk = run(
        server, [{"create": "article", "as": "a", "set": {"title": "abc", "author_id": new_author(server)}}]
    )["a"]
    created = {"action": "create", "model": "testproject.article", "data": {"id": pk, "title": "abc"}}
    for sock in sockets[0::2]:
        assert sock.recv() == {"stream": "queried-articles", "payload": {**created, "cause": "created"}}
    assert_nothing_more(*sockets)
    still_served(server, sockets[0])
    for sock in sockets:
        sock.close()


def test_unsubscribing_names_the_same_filter(server):
    alice = new_author(server)
    sock = Socket(server)
    follow(server, sock, {"author": str(alice)}, action="UPDATE")
    other = graphql(
        server,
        subscription_request(
            FIELD, sock.channel_id, operation="UNSUBSCRIBE", action="UPDATE", filters={"author": "999999"}
        ),
    )
    assert other == {
        "data": {
            FIELD: {
                "ok": False,
                "error": "Nothing to unsubscribe: this socket does not follow update of the objects that match "
                "this filter on stream 'filtered-articles'.",
                "stream": STREAM,
                "operation": "UNSUBSCRIBE",
                "action": "UPDATE",
            }
        }
    }
    subscribe(
        server, sock, field=FIELD, operation="UNSUBSCRIBE", action="UPDATE", filters={"author": str(alice)}
    )
    run(server, [{"create": "article", "as": "a", "set": {"title": "x", "author_id": alice}}])
    assert_nothing_more(sock)
    sock.close()


def routes_of(server, authors):
    """How changes find the records of filters on ``authors`` (see ``filter_routes`` in the test views)."""
    entries = requests.get(f"{server.http}/testing/filter-routes/{STREAM}/", timeout=10).json()
    return [entry for entry in entries if set(entry["filter"].get("author__in", ())) & set(authors)]


def test_an_in_filter_is_found_by_each_value_it_lists_and_its_routes_go_with_it(server):
    """A change finds an ``in`` filter by the value it stores, one route per listed value, as it finds an
    exact one: sockets following other values cost it nothing. Its routes go when its subscription does."""
    alice, bob, carol = (new_author(server) for _ in range(3))
    both, one, drafts = Socket(server), Socket(server), Socket(server)
    followers = [
        (both, {"author_In": [str(alice), str(bob)]}),
        (one, {"author_In": [str(carol)]}),
        (drafts, {"author_In": [str(alice), str(bob)], "status": "draft"}),
    ]
    at_once(len(followers), lambda n: follow(server, *followers[n], action="CREATE"))
    found = {
        json.dumps(entry["filter"], sort_keys=True): entry for entry in routes_of(server, [alice, bob, carol])
    }
    assert sorted(found) == sorted(
        [
            '{"author__in": [%d, %d]}' % (alice, bob),
            '{"author__in": [%d, %d], "status": "draft"}' % (alice, bob),
            '{"author__in": [%d]}' % carol,
        ]
    )
    by_both = found['{"author__in": [%d, %d]}' % (alice, bob)]
    assert by_both["route"] == "+" and len(set(by_both["routes"])) == 2, by_both
    for alone in (
        found['{"author__in": [%d]}' % carol],
        found['{"author__in": [%d, %d], "status": "draft"}' % (alice, bob)],
    ):
        assert len(alone["route"]) == 20 and alone["routes"] == [], (
            alone
        )  # by its one value, or its exact part
    made = run(
        server,
        [
            {"create": "article", "as": "a", "set": {"title": "by alice", "author_id": alice}},
            {"create": "article", "as": "b", "set": {"title": "by bob", "author_id": bob, "status": "live"}},
            {"create": "article", "as": "c", "set": {"title": "by carol", "author_id": carol}},
        ],
    )
    assert [both.recv(), both.recv()] == [
        frame("create", "created", made["a"], "by alice", alice),
        frame("create", "created", made["b"], "by bob", bob),
    ]
    assert one.recv() == frame("create", "created", made["c"], "by carol", carol)
    assert drafts.recv() == frame("create", "created", made["a"], "by alice", alice)
    assert_nothing_more(both, one, drafts)
    subscribe(server, both, field=FIELD, operation="UNSUBSCRIBE", action="CREATE", filters=followers[0][1])
    assert len(routes_of(server, [alice, bob, carol])) == 2
    for sock in (both, one, drafts):
        sock.close()
    deadline = time.monotonic() + 10
    while routes_of(server, [alice, bob, carol]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert routes_of(server, [alice, bob, carol]) == []


def refused(server, sock, filters, **request):
    """The ``error`` of a subscribe request with ``filters`` the server refuses (the whole reply checked)."""
    reply = graphql(
        server, subscription_request(FIELD, sock.channel_id, action="ALL_ACTIONS", filters=filters, **request)
    )
    result = reply["data"][FIELD]
    assert reply == {
        "data": {
            FIELD: {
                "ok": False,
                "error": result["error"],
                "stream": STREAM,
                "operation": "SUBSCRIBE",
                "action": "ALL_ACTIONS",
            }
        }
    }
    return result["error"]


def test_bad_filters_are_refused_with_a_sentence_and_nothing_is_recorded(server):
    alice = new_author(server)
    sockets = [Socket(server) for _ in range(4)]
    cases = [
        (
            {"author": "abc"},
            {},
            f"author: 'abc' is not a value of Article.author ({NOT_AN_INTEGER}).",
        ),
        (
            {"author_In": [str(n) for n in range(101)]},
            {},
            "author_In lists 101 values; a filter may list up to 100 (MAX_FILTER_VALUES): follow fewer, or "
            "several subscriptions.",
        ),
        (
            {"author": str(alice)},
            {"id": 1},
            "A filter and an id cannot be combined: the id follows one object whatever it holds, a filter "
            "follows every object that matches it. Leave one of them out.",
        ),
        (
            {"publishedOn_Range": ["2025-01-01"]},
            {},
            "publishedOn_Range takes two values, the first and the last: [low, high].",
        ),
    ]
    errors = at_once(len(cases), lambda n: refused(server, sockets[n], cases[n][0], **cases[n][1]))
    assert errors == [case[2] for case in cases]
    run(server, [{"create": "article", "as": "a", "set": {"title": "x", "author_id": alice}}])
    assert_nothing_more(*sockets)
    still_served(server, sockets[0])
    for sock in sockets:
        sock.close()


def socket_request(sock, data, request_id="r1", action="subscribe"):
    """Send a channels-api style request on the 2018 socket; its reply."""
    sock.send({"stream": STREAM, "payload": {"action": action, "data": data, "request_id": request_id}})
    return sock.recv()


def reply(errors=(), status=200, action="all_actions", request_id="r1"):
    data = {"action": action} if not errors else None
    return {
        "stream": STREAM,
        "payload": {
            "action": "subscribe",
            "data": data,
            "errors": list(errors),
            "response_status": status,
            "request_id": request_id,
        },
    }


def test_a_socket_request_carries_a_filter_as_its_arguments_are_written(server):
    alice, bob = new_author(server), new_author(server)
    sockets = [Socket(server) for _ in range(3)]
    data = {
        "action": "all_actions",
        "fields": ["id", "title", "author"],
        "filter": {"author_In": [alice, str(bob)]},
    }
    assert at_once(3, lambda n: socket_request(sockets[n], data)) == [reply()] * 3
    pk = run(
        server,
        [
            {"create": "article", "as": "a", "set": {"title": "one", "author_id": alice}},
            {"update": "a", "set": {"author_id": new_author(server)}},
        ],
    )["a"]
    for sock in sockets:
        heard = [sock.recv() for _ in range(2)]
        assert heard[0] == frame("create", "created", pk, "one", alice)
        assert heard[1]["payload"]["action"] == "delete" and heard[1]["payload"]["cause"] == "left"
    assert_nothing_more(*sockets)
    for sock in sockets:
        sock.close()


def test_a_bad_filter_in_a_socket_request_is_refused_and_the_socket_serves_on(server):
    sock = Socket(server)
    cases = [
        (
            {"writer": 1},
            "Unknown filter 'writer' on stream 'filtered-articles': choose from author, author_In, "
            "status, status_In, title, title_Iexact, title_Contains, title_Icontains, title_Startswith, "
            "title_Endswith, published_Isnull, published_Gt, published_Lte, published_Year, publishedOn_Range, "
            "publishedOn_Month, publishedOn_Day.",
        ),
        ([1], 'data.filter must be an object of filter arguments, e.g. {"author": 3, "title": "x"}.'),
        ({"published_Isnull": "yes"}, "published_Isnull takes true or false (got 'yes')."),
        ({"title_Icontains": 3}, "title_Icontains takes text (got 3)."),
    ]
    for number, (written, error) in enumerate(cases):
        request_id = f"bad{number}"
        answer = socket_request(sock, {"action": "all_actions", "filter": written}, request_id=request_id)
        assert answer == reply([error], status=400, request_id=request_id)
    still_served(server, sock)
    sock.close()


def test_the_documented_2018_filter_requests_work_as_written(example):
    """docs/filters.rst: the HTTP subscribe request and the socket request, on the example project."""
    prefix = "team-"
    by_http, by_frame = Socket(example), Socket(example)
    request = snippet("unsubscribe names the same filter::").replace(
        "GthKdsYVrK!WxRCdJQMPi", by_http.channel_id
    )
    reply = graphql(example, request)
    assert reply == {
        "data": {
            "groupSubscription": {
                "ok": True,
                "error": None,
                "stream": "groups",
                "operation": "SUBSCRIBE",
                "action": "ALL_ACTIONS",
            }
        }
    }
    assert by_http.recv() == {
        "action": "all_actions",
        "operation": "subscribe",
        "ok": True,
        "stream": "groups",
        "error": None,
    }
    by_frame.send(json.loads(snippet("arguments are written, in ``data.filter``, with JSON values::")))
    assert by_frame.recv() == {
        "stream": "groups",
        "payload": {
            "action": "subscribe",
            "data": {"action": "all_actions"},
            "errors": [],
            "response_status": 200,
            "request_id": "r1",
        },
    }
    name = f"{prefix}{unique('g')}"
    pk = create_group(example, name)
    for sock in (by_http, by_frame):
        assert sock.recv() == {
            "stream": "groups",
            "payload": {
                "action": "create",
                "model": "auth.group",
                "data": {"id": pk, "name": name},
                "cause": "created",
            },
        }
    assert_nothing_more(by_http, by_frame, quiet=1.0)  # the example has no marker stream
    shown = json.loads(snippet("subscription carries it in its payload, in lower case::"))
    assert set(shown["payload"]) == {"action", "model", "data", "cause"}
    by_http.close()
    by_frame.close()


# -- Every lookup, against the database's own answer ---------------------------------------------------

#: The 2018 field of each stream the lists follow.
FIELDS_2018 = {
    "filtered-articles": "filteredArticleSubscription",
    "filterset-articles": "filterSetArticleSubscription",
    "live-articles": "liveArticleSubscription",
    "public-articles": "publicArticleSubscription",
    "queried-articles": "queriedArticleSubscription",
    "dated-articles": "datedArticleSubscription",
}
#: The cause of a change that moved nothing in or out (a 2018 frame without a filter leaves it out).
PLAIN = {"create": "created", "update": "updated", "delete": "deleted"}


class FilteredList:
    """A 2018 socket that follows one filter (subscribed over HTTP), and the list it keeps from the actions alone."""

    def __init__(self, server, stream, arguments):
        self.stream, self.arguments = stream, arguments
        self.sock = Socket(server)
        written = {camel(name): value for name, value in arguments.items()}
        subscribe(
            server, self.sock, field=FIELDS_2018[stream], action="ALL_ACTIONS", data=["ID"], filters=written
        )
        Marker2018(self.sock).start()
        self.ids = set()

    def read_until(self, label):
        """Apply every frame up to the marker ``label`` (the server sends in commit order)."""
        while True:
            frame = self.sock.recv()
            if frame.get("stream") == "markers":
                if frame["payload"]["data"]["label"] == label:
                    return
                continue
            payload = frame["payload"]
            pk = payload["data"]["id"]
            shown = {"action": payload["action"], "model": "testproject.article", "data": {"id": pk}}
            if self.arguments or payload.get("cause") in ("entered", "left"):
                shown["cause"] = payload["cause"]  # a filter's frames say it always; a scope's, when it moved
            assert frame == {"stream": self.stream, "payload": shown}
            cause = payload.get("cause") or PLAIN[payload["action"]]
            keep(self.ids, payload["action"], cause, pk, (self.stream, self.arguments))


@pytest.fixture(scope="module")
def filtered_lists(server):
    articles, lists = open_lists(server, FilteredList)
    yield articles, lists
    for one in lists:
        one.sock.close()


@settings(max_examples=8 if SMALL else 20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(CHANGE, min_size=1, max_size=8))
def test_a_list_kept_from_the_2018_frames_holds_what_the_filters_query_returns(
    server, filtered_lists, changes
):
    """Creates, updates that move objects in and out, deletes, saved back to back; each lookup kind, both engines."""
    save_and_check(server, *filtered_lists, changes)
