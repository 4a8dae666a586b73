"""Resuming a subscription after a cursor (graphql-transport-ws): the changes missed, in commit order, once.

Every event carries a ``cursor``; ``articleChanges(after: cursor)`` first sends
the changes committed since that the subscription would have heard, then live
ones, with nothing lost or doubled at the seam. Where it cannot (another epoch,
history pruned, a gap longer than ``MAX_REPLAYED_CHANGES``), the first event is
a ``RESYNC``. Each test resumes several sockets at once.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support import databases
from support.article_feed import (
    SOCKETS,
    after,
    articles,
    close,
    cursor_now,
    new_author,
    next_message,
    nothing_more,
    received,
    received_with_cursors,
    resume,
    resumed,
    resync,
    run,
)
from support.client import (
    TIMEOUT,
    Socket,
    create_group,
    new_login,
    post,
    rename_group,
    subscribe,
    token_for,
    unique,
    wait_for,
)
from support.gates import Gate
from support.graphql_ws_client import WsSocket, served


def test_a_subscription_after_an_events_cursor_first_hears_what_it_missed_in_commit_order_then_live(server):
    author = new_author(server)
    first = WsSocket(server)
    first.follow("1", articles())
    a = run(server, [{"create": "article", "as": "a", "set": {"title": "one", "author_id": author}}])["a"]
    [(action, pk, title, cursor)] = received_with_cursors(first, "1", 1)
    assert (action, pk, title) == ("CREATE", a, "one")
    first.close()  # dropped: what follows is missed
    b = run(
        server,
        [
            {"load": "article", "pk": a, "as": "a"},
            {"update": "a", "set": {"title": "two"}},
            {"create": "article", "as": "b", "set": {"title": "three", "author_id": author}},
            {"delete": "a"},
        ],
    )["b"]
    sockets = resumed(server, cursor)
    missed = [("UPDATE", a, "two"), ("CREATE", b, "three"), ("DELETE", a, "two")]
    for sock in sockets:
        assert received(sock, "1", 3) == missed
    run(server, [{"load": "article", "pk": b, "as": "b"}, {"update": "b", "set": {"title": "four"}}])
    for sock in sockets:
        assert received(sock, "1", 1) == [("UPDATE", b, "four")]
    nothing_more(*sockets)
    close(sockets)


def test_the_cursor_of_an_event_resumes_right_after_that_event(server):
    author = new_author(server)
    sock = WsSocket(server)
    sock.follow("1", articles())
    ids = run(
        server, [{"create": "article", "as": t, "set": {"title": t, "author_id": author}} for t in "xyz"]
    )
    cursors = [event[3] for event in received_with_cursors(sock, "1", 3)]
    sock.close()
    for index, cursor in enumerate(cursors):
        sockets = resumed(server, cursor, count=2)
        for resuming in sockets:
            later = "xyz"[index + 1 :]
            assert received(resuming, "1", len(later)) == [("CREATE", ids[t], t) for t in later]
        nothing_more(*sockets)
        close(sockets)


def test_nothing_is_lost_or_doubled_at_the_seam_while_changes_flow(server):
    author = new_author(server)
    a = run(server, [{"create": "article", "as": "a", "set": {"title": "t0", "author_id": author}}])["a"]
    start = cursor_now(server)
    titles = [f"t{number}" for number in range(1, 41)]
    done = threading.Event()

    def save_all():
        # One request a change: each commits alone, as the sockets resume between them.
        for title in titles:
            run(server, [{"load": "article", "pk": a, "as": "a"}, {"update": "a", "set": {"title": title}}])
        done.set()

    saving = threading.Thread(target=save_all)
    saving.start()
    sockets = []
    try:
        while not done.is_set() and len(sockets) < 8:
            sockets.extend(resumed(server, start, count=2))
    finally:
        saving.join()
    assert len(sockets) >= 4, "the changes were all saved before the sockets resumed: nothing was tested"
    for sock in sockets:
        assert received(sock, "1", len(titles)) == [("UPDATE", a, title) for title in titles]
    nothing_more(*sockets)
    close(sockets)


def test_a_subscription_without_a_cursor_hears_no_change_committed_before_it(limited_server):
    """A change committed before the subscribe, but delivered after it, is not sent to it: on either protocol.

    The server reads the log only when told (its poll is 30 s away), and the
    saving request's outbox, which tells it, waits at a gate until the sockets
    have subscribed.
    """
    server = limited_server("slow-poll", CHANGE_LOG_POLL_SECONDS=30)
    author = new_author(server)
    served = WsSocket(server)  # the server follows the log from here, before the change
    gate = Gate()
    holding = threading.Thread(
        target=run,
        args=(server, [{"create": "article", "as": "a", "set": {"title": "before", "author_id": author}}]),
        kwargs={"hold": gate.key},
    )
    holding.start()
    wait_for(lambda: gate.started())
    holding.join()  # committed; its delivery waits behind the gate
    sockets = [WsSocket(server) for _ in range(SOCKETS)]
    old = [Socket(server) for _ in range(SOCKETS)]
    with ThreadPoolExecutor(SOCKETS) as pool:
        list(pool.map(lambda sock: sock.follow("1", articles()), sockets))
        list(pool.map(lambda sock: subscribe(server, sock, field="articleSubscription", action="CREATE",
                                             data=["ID", "TITLE"]), old))  # fmt: skip
    gate.open()
    b = run(server, [{"create": "article", "as": "b", "set": {"title": "after", "author_id": author}}])["b"]
    for sock in sockets:
        assert received(sock, "1", 1) == [("CREATE", b, "after")]
    for sock in old:
        assert sock.recv() == {
            "stream": "articles",
            "payload": {
                "action": "create",
                "model": "testproject.article",
                "data": {"id": b, "title": "after"},
            },
        }
    nothing_more(*sockets, *old, served)
    close([*sockets, *old, served])


def test_a_cursor_read_with_the_data_then_a_subscription_after_it_loses_and_doubles_nothing(server):
    author = new_author(server)
    cursor = cursor_now(server)
    a = run(server, [{"create": "article", "as": "a", "set": {"title": "between", "author_id": author}}])["a"]
    sockets = resumed(server, cursor)
    for sock in sockets:
        assert received(sock, "1", 1) == [("CREATE", a, "between")]
    nothing_more(*sockets)
    close(sockets)


def test_a_cursor_of_another_epoch_gets_a_resync_then_live_changes(server):
    author = new_author(server)
    sockets = resumed(server, "0123456789ab.1")
    now = cursor_now(server)
    for sock in sockets:
        assert resync(sock, "1") == now
    a = run(server, [{"create": "article", "as": "a", "set": {"title": "live", "author_id": author}}])["a"]
    for sock in sockets:
        assert received(sock, "1", 1) == [("CREATE", a, "live")]
    nothing_more(*sockets)
    close(sockets)


def test_an_event_says_whether_it_was_replayed_or_live(server):
    """``replayed`` tells a client what it missed (and the RESYNC that stands for it) from what is live."""
    author = new_author(server)
    cursor = cursor_now(server)
    a = run(server, [{"create": "article", "as": "a", "set": {"title": "missed", "author_id": author}}])["a"]
    selection = "{ action replayed data { title } }"
    queries = [
        "subscription { articleChanges(after: %s) %s }" % (json.dumps(start), selection)
        for start in (cursor, "0123456789ab.1")
    ]
    sockets = [WsSocket(server) for _ in range(SOCKETS)]
    with ThreadPoolExecutor(SOCKETS) as pool:
        list(pool.map(lambda pair: resume(pair[0], "1", queries[pair[1] % 2]), zip(sockets, range(SOCKETS))))

    def event(action, replayed, title):
        data = None if title is None else {"title": title}
        changes = {"action": action, "replayed": replayed, "data": data}
        return {"id": "1", "type": "next", "payload": {"data": {"articleChanges": changes}}}

    for number, sock in enumerate(sockets):
        first = event("CREATE", True, "missed") if number % 2 == 0 else event("RESYNC", True, None)
        assert next_message(sock) == first
    run(server, [{"load": "article", "pk": a, "as": "a"}, {"update": "a", "set": {"title": "live"}}])
    for sock in sockets:
        assert next_message(sock) == event("UPDATE", False, "live")
    nothing_more(*sockets)
    close(sockets)


def test_a_subscription_to_an_object_deleted_meanwhile_hears_it_up_to_the_delete_then_complete(server):
    """Live, it would have heard the update and the delete: resuming, it does, though the id is gone now."""
    author = new_author(server)
    a = run(server, [{"create": "article", "as": "a", "set": {"title": "here", "author_id": author}}])["a"]
    cursor = cursor_now(server)
    run(server, [{"load": "article", "pk": a, "as": "a"}, {"update": "a", "set": {"title": "gone"}}])
    run(server, [{"load": "article", "pk": a, "as": "a"}, {"delete": "a"}])
    later = cursor_now(server)
    following = articles(f'(id: "{a}", after: {json.dumps(cursor)})')
    sockets = [WsSocket(server) for _ in range(SOCKETS)]
    with ThreadPoolExecutor(SOCKETS) as pool:
        list(pool.map(lambda sock: resume(sock, "1", following), sockets))
    for sock in sockets:
        assert received(sock, "1", 2) == [("UPDATE", a, "gone"), ("DELETE", a, "gone")]
        assert next_message(sock) == {"id": "1", "type": "complete"}
        # After the delete there is nothing to hear: the id is unknown, as without a cursor.
        sock.subscribe("2", articles(f'(id: "{a}", after: {json.dumps(later)})'))
        assert next_message(sock) == {
            "id": "2",
            "type": "error",
            "payload": [
                {"message": f"Unknown id '{a}' on stream 'articles': no such object can be followed."}
            ],
        }
    nothing_more(*sockets)
    close(sockets)


def test_a_cursor_this_server_never_gave_is_refused_with_an_error_and_the_server_serves_on(server):
    sockets = [WsSocket(server) for _ in range(SOCKETS)]
    bad = ["nonsense", "12.x", "", "a" * 300]
    for sock, cursor in zip(sockets, bad):
        sock.subscribe("1", after(cursor))
    shown = {
        "nonsense": "'nonsense'",
        "12.x": "'12.x'",
        "": "''",
        "a" * 300: repr("a" * 40) + "… (300 characters)",
    }
    for sock, cursor in zip(sockets, bad):
        assert sock.recv() == {
            "id": "1",
            "type": "error",
            "payload": [
                {
                    "message": f"The cursor {shown[cursor]} is not one this server gave: pass the cursor of an "
                    "event you received (or of the stream's cursor query), or leave it out."
                }
            ],
        }
    nothing_more(*sockets)
    close(sockets)
    served(server)


def test_cursors_in_connection_init_resume_operations_by_id_or_by_name(server):
    """A stock graphql-ws client resends its subscribe payloads unchanged; its connectionParams can carry cursors."""
    author = new_author(server)
    cursor = cursor_now(server)
    a = run(server, [{"create": "article", "as": "a", "set": {"title": "missed", "author_id": author}}])["a"]
    by_id = WsSocket(server, payload={"cursors": {"feed-1": cursor}})
    by_name = WsSocket(server, payload={"cursors": {"Feed": cursor}})
    stale = WsSocket(server, payload={"cursors": {"Feed": cursor}})  # wins over the payload's old cursor
    resume(by_id, "feed-1", articles())
    by_name.subscribe("2", "subscription Feed { articleChanges { action cursor data { id title } } }")
    stale.subscribe(
        "3",
        'subscription Feed { articleChanges(after: "0123456789ab.1") { action cursor data { id title } } }',
    )
    assert received(by_id, "feed-1", 1) == [("CREATE", a, "missed")]
    assert received(by_name, "2", 1) == [("CREATE", a, "missed")]
    assert received(stale, "3", 1) == [("CREATE", a, "missed")]
    nothing_more(by_id, by_name, stale)
    close([by_id, by_name, stale])


def test_cursors_in_connection_init_that_are_not_an_object_close_the_socket(server):
    sock = WsSocket(server, init=False)
    sock.send({"type": "connection_init", "payload": {"cursors": ["0123456789ab.1"]}})
    assert sock.recv_close() == 4400  # daphne sends no close reason: the server's log has it
    served(server)


def test_a_rollback_logs_nothing_a_resuming_subscription_could_hear(server):
    cursor = cursor_now(server)
    post(server, "/testing/rollback/", {"username": unique("rolled")})
    sockets = [WsSocket(server) for _ in range(SOCKETS)]
    query = "subscription { userChanges(after: %s) { action cursor data { id } } }" % json.dumps(cursor)
    with ThreadPoolExecutor(SOCKETS) as pool:
        list(pool.map(lambda sock: resume(sock, "1", query), sockets))
    assert [sock.pending for sock in sockets] == [[]] * SOCKETS
    nothing_more(*sockets)
    close(sockets)


def test_changes_are_replayed_in_commit_order_even_when_numbered_otherwise(server):
    """On PostgreSQL the second transaction commits while the first, numbered before it, is open."""
    author = new_author(server)
    cursor = cursor_now(server)
    made = post(server, "/testing/commit-out-of-order/", {"author": author})
    first, second = made["ids"]["numbered-first"], made["ids"]["numbered-second"]
    assert first < second
    # PostgreSQL commits the second first; SQLite makes it wait for the first (one writer).
    firsts = (
        ["numbered-second", "numbered-first"]
        if databases.KIND == "postgres"
        else ["numbered-first", "numbered-second"]
    )
    assert made["committed"] == firsts
    expected = [("CREATE", made["ids"][title], title) for title in made["committed"]]
    sockets = resumed(server, cursor)
    for sock in sockets:
        assert received(sock, "1", 2) == expected
    nothing_more(*sockets)
    close(sockets)


def logged_cursors(server, pk):
    """The cursors of the changes of article ``pk`` the server's change log holds, in commit order."""
    log = requests.get(f"{server.http}/testing/change-log/", timeout=TIMEOUT).json()
    entries = [e for e in log["entries"] if e["stream"] == "articles" and e["object_key"] == str(pk)]
    return [f"{log['epoch']}.{entry['position']}" for entry in entries]


@pytest.fixture(scope="module")
def short_history(limited_server):
    return limited_server("short-history", MAX_REPLAYED_CHANGES=3, CHANGE_LOG_MAX_CHANGES_PER_STREAM=6,
                          CHANGE_LOG_PRUNE_SECONDS=0)  # fmt: skip


def test_a_gap_longer_than_the_replay_limit_gets_a_resync(short_history):
    author = new_author(short_history)
    cursor = cursor_now(short_history)
    steps = [{"create": "article", "as": t, "set": {"title": t, "author_id": author}} for t in "abcd"]
    ids = run(short_history, steps)
    longer = resumed(short_history, cursor)
    now = cursor_now(short_history)
    for sock in longer:
        assert resync(sock, "1") == now  # from there, live
    within = resumed(short_history, logged_cursors(short_history, ids["a"])[0])
    for sock in within:
        assert received(sock, "1", 3) == [("CREATE", ids[t], t) for t in "bcd"]
    nothing_more(*longer, *within)
    close(longer + within)


def test_a_cursor_older_than_the_streams_history_gets_a_resync(short_history):
    author = new_author(short_history)
    cursor = cursor_now(short_history)
    first = run(
        short_history, [{"create": "article", "as": "a", "set": {"title": "old", "author_id": author}}]
    )["a"]
    for number in range(8):  # the stream keeps 6: the first goes
        run(
            short_history,
            [{"create": "article", "as": "x", "set": {"title": f"n{number}", "author_id": author}}],
        )
    wait_for(lambda: not logged_cursors(short_history, first))  # pruned
    sockets = resumed(short_history, cursor)
    for sock in sockets:
        resync(sock, "1")
    nothing_more(*sockets)
    close(sockets)


def test_without_the_change_log_changes_still_arrive_and_resuming_is_refused(limited_server):
    server = limited_server("no-change-log", CHANGE_LOG=False)
    author = new_author(server)
    sockets = [WsSocket(server) for _ in range(SOCKETS)]
    with ThreadPoolExecutor(SOCKETS) as pool:
        list(pool.map(lambda sock: sock.follow("1", articles().replace(" cursor", "")), sockets))
    resuming = WsSocket(server)
    resuming.subscribe("2", after("0123456789ab.1"))
    assert resuming.recv() == {
        "id": "2",
        "type": "error",
        "payload": [
            {"message": "This server keeps no change log (CHANGE_LOG is off): subscribe without a cursor."}
        ],
    }
    a = run(server, [{"create": "article", "as": "a", "set": {"title": "unlogged", "author_id": author}}])[
        "a"
    ]
    for sock in sockets:
        assert sock.recv() == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {"articleChanges": {"action": "CREATE", "data": {"id": a, "title": "unlogged"}}}
            },
        }
    nothing_more(*sockets, resuming)
    close([*sockets, resuming])


def test_a_cursor_older_than_the_age_the_log_keeps_gets_a_resync(limited_server):
    server = limited_server("aged-history", CHANGE_LOG_MAX_AGE_SECONDS=1, CHANGE_LOG_PRUNE_SECONDS=0)
    author = new_author(server)
    before = cursor_now(server)
    old = run(server, [{"create": "article", "as": "a", "set": {"title": "old", "author_id": author}}])["a"]
    after_old = cursor_now(server)
    time.sleep(1.5)
    new = run(server, [{"create": "article", "as": "b", "set": {"title": "new", "author_id": author}}])["b"]
    wait_for(lambda: not logged_cursors(server, old))  # pruned
    too_old = resumed(server, before)
    for sock in too_old:
        resync(sock, "1")
    kept = resumed(server, after_old)
    for sock in kept:
        assert received(sock, "1", 1) == [("CREATE", new, "new")]
    nothing_more(*too_old, *kept)
    close(too_old + kept)


TEAMS = "subscription { teamChanges%s { action cursor data { name } } }"


def team_events(sock, id, count):
    """The next ``count`` team events of operation ``id``: ``(action, name)``."""
    events = []
    for _ in range(count):
        message = next_message(sock)
        event = message["payload"]["data"]["teamChanges"]
        assert message == {
            "id": id,
            "type": "next",
            "payload": {"data": {"teamChanges": {"action": event["action"], "cursor": event["cursor"],
                                                 "data": event["data"]}}},
        }  # fmt: skip
        events.append((event["action"], event["data"] and event["data"]["name"]))
    return events


def members_resuming(server, team, cursor, count=2):
    """``count`` sockets of a new member of ``team``, resuming the teams stream after ``cursor``."""
    _, _, _, cookie = new_login(server, "member", groups=[team])
    sockets = [WsSocket(server, cookie=cookie) for _ in range(count)]
    query = TEAMS % f"(after: {json.dumps(cursor)})"
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda sock: resume(sock, "1", query), sockets))
    return sockets


def test_a_stream_with_a_per_recipient_rule_replays_to_each_user_what_the_rule_lets_them_see(server):
    cursor = cursor_now(server)
    mine, theirs = unique("team"), unique("team")
    pk = create_group(server, mine)
    create_group(server, theirs)
    renamed = unique("team")
    run(server, [{"load": "group", "pk": pk, "as": "g"}, {"update": "g", "set": {"name": renamed}}])
    members = members_resuming(server, renamed, cursor)
    others = members_resuming(server, theirs, cursor)
    for sock in members:
        assert team_events(sock, "1", 2) == [("CREATE", mine), ("UPDATE", renamed)]
    for sock in others:
        assert team_events(sock, "1", 1) == [("CREATE", theirs)]
    nothing_more(*members, *others)
    close(members + others)


def test_a_per_recipient_gap_that_holds_a_delete_of_an_object_from_before_it_gets_a_resync(server):
    """Whether a user could see an object that is gone cannot be asked any more; one made in the gap was
    never shown to them before it, and what the replay did not show them they cannot hold."""
    before = create_group(server, unique("team"))
    cursor = cursor_now(server)
    brief = create_group(server, unique("team"))
    run(server, [{"load": "group", "pk": brief, "as": "g"}, {"delete": "g"}])
    elsewhere = unique("team")
    create_group(server, elsewhere)
    members = members_resuming(server, elsewhere, cursor)
    for sock in members:
        assert team_events(sock, "1", 1) == [("CREATE", elsewhere)]
    nothing_more(*members)
    close(members)
    run(server, [{"load": "group", "pk": before, "as": "g"}, {"delete": "g"}])
    again = members_resuming(server, elsewhere, cursor)
    for sock in again:
        assert team_events(sock, "1", 1) == [("RESYNC", None)]
    nothing_more(*again)
    close(again)


OWNED = "subscription { ownedChanges%s { action cause replayed data { name viewer } } }"


def owned_sockets(server, name, count, cursor=None):
    """``count`` sockets of user ``name`` following the owned stream (after ``cursor``, when given)."""
    token = token_for(server, name)[1]
    sockets = [WsSocket(server, path="/graphql-token/", payload={"token": token}) for _ in range(count)]
    query = OWNED % ("" if cursor is None else f"(after: {json.dumps(cursor)})")
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda sock: resume(sock, "1", query), sockets))
    return sockets


def owned_event(action, cause, replayed, name=None, viewer=None):
    data = None if name is None else {"name": name, "viewer": viewer}
    changes = {"action": action, "cause": cause, "replayed": replayed, "data": data}
    return {"id": "1", "type": "next", "payload": {"data": {"ownedChanges": changes}}}


def test_an_object_that_left_a_users_view_in_the_gap_is_replayed_as_left_or_resyncs(server):
    # The owned stream shows each user the groups named after them. While a socket of alice's followed
    # it, her group was renamed after bob: the rule was asked for her then, so her resuming sockets are
    # told exactly that it left, as she last saw it. Nobody followed for carol when hers left: whether
    # she ever saw it cannot be asked any more, so hers resync.
    alice, bob, carol = unique("alice"), unique("bob"), unique("carol")
    alices, carols = create_group(server, f"{alice}-team"), create_group(server, f"{carol}-team")
    cursor = cursor_now(server)
    watching = owned_sockets(server, alice, 1)
    rename_group(server, alices, f"{bob}-team")
    rename_group(server, carols, f"{bob}-crew")
    assert next_message(watching[0]) == owned_event("DELETE", "LEFT", False, f"{alice}-team", alice)
    resuming = owned_sockets(server, alice, 2, cursor) + owned_sockets(server, carol, 2, cursor)
    try:
        for sock in resuming[:2]:
            assert next_message(sock) == owned_event("DELETE", "LEFT", True, f"{alice}-team", alice)
        for sock in resuming[2:]:
            assert next_message(sock) == owned_event("RESYNC", None, True)
        nothing_more(*watching, *resuming)
    finally:
        close(watching + resuming)


def test_a_member_who_subscribes_while_a_change_is_being_made_is_told_to_resync(server):
    """The rule was asked, in the change's transaction, about the subscribers recorded then.

    On PostgreSQL a subscribe can be recorded before that transaction commits:
    whether the new subscriber may hear of the change was never asked, so it
    gets a RESYNC. On SQLite the subscribe waits for the change's commit (one
    writer at a time), and then begins after it: it hears nothing of it.
    """
    team = unique("team")
    pk = create_group(server, team)
    _, _, _, cookie = new_login(server, "member", groups=[team])
    sock = WsSocket(server, cookie=cookie)  # connected (a write) before the change holds SQLite's lock
    gate = Gate()
    steps = [{"load": "group", "pk": pk, "as": "g"}, {"update": "g", "set": {"name": unique("team")}},
             {"wait": gate.key}]  # fmt: skip
    saving = threading.Thread(
        target=post, args=(server, "/testing/changes/", {"steps": steps, "atomic": True})
    )
    saving.start()
    wait_for(gate.started)  # judged: the member had no subscription yet
    subscribing = threading.Thread(target=resume, args=(sock, "1", TEAMS % ""))
    subscribing.start()
    subscribing.join(1)  # on SQLite it waits for the change's commit
    gate.open()
    saving.join()
    subscribing.join()
    if databases.KIND == "postgres":
        assert team_events(sock, "1", 1) == [("RESYNC", None)]
    nothing_more(sock)
    sock.close()


@pytest.fixture(scope="module")
def replay_budget(limited_server):
    return limited_server("replay-budget", MAX_REPLAYED_CHANGES_PER_SOCKET_PER_MINUTE=10)


def test_a_socket_that_resumes_over_and_over_gets_resyncs_once_its_minutes_replays_are_sent(replay_budget):
    """Each replayed change is read and serialized for one socket: a socket may not make the server do it
    without end (MAX_REPLAYED_CHANGES_PER_SOCKET_PER_MINUTE). Other sockets keep theirs."""
    author = new_author(replay_budget)
    cursor = cursor_now(replay_budget)
    steps = [{"create": "article", "as": t, "set": {"title": t, "author_id": author}} for t in "abcd"]
    ids = run(replay_budget, steps)
    missed = [("CREATE", ids[t], t) for t in "abcd"]

    def resume_over_and_over(sock):
        heard = []
        for number in range(1, 6):
            id = str(number)
            resume(sock, id, after(cursor))
            # 10 a minute: two replays of 4, then too few left for the gap of 4.
            heard.append(received(sock, id, 4) if number <= 2 else resync(sock, id))
            sock.complete(id)
        return heard

    sockets = [WsSocket(replay_budget) for _ in range(SOCKETS)]
    with ThreadPoolExecutor(SOCKETS) as pool:
        heard = list(pool.map(resume_over_and_over, sockets))
    now = cursor_now(replay_budget)
    assert heard == [[missed, missed, now, now, now]] * SOCKETS
    bystander = resumed(replay_budget, cursor, count=1)
    assert received(bystander[0], "1", 4) == missed
    nothing_more(*sockets, *bystander)
    close(sockets + bystander)
    served(replay_budget)
