"""The live page over graphql-transport-ws (modern engine): each subscription resumes after its last cursor.

After a dropped socket or a server restart the page subscribes again ``after``
the last cursor it heard, and its log says how many changes were replayed, or
"history gone: reloaded" when the server could not replay them.
"""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.browser import move_groups_in_and_out
from support.client import as_admin, create_user, graphql, unique

#: A browser in front of the server: the same whatever the Django version.
pytestmark = pytest.mark.stack

DESCRIPTION = "users · all actions · every object · id, username"
CURSOR = re.compile(r"^[0-9a-f]+\.[0-9]+$")
#: The cause of each action on a subscription without a filter (none in a RESYNC).
PLAIN_CAUSES = {"CREATE": "CREATED", "UPDATE": "UPDATED", "DELETE": "DELETED", "RESYNC": None}


def open_watching(tabs, server, count):
    """``count`` tabs over graphql-transport-ws, each following every user's changes (ids and usernames)."""
    pages = [tabs.open(f"{server.http}/?protocol=standard") for _ in range(count)]
    for page in pages:
        # The tables (and each stream's cursor, read with them) are shown: the subscription starts after it.
        page.wait(lambda page=page: page.rows("user"), "the users table was never shown")
        page.subscribe("users", "ALL_ACTIONS", fields=["ID", "USERNAME"])
    for page in pages:
        page.wait_until_live(DESCRIPTION)
    return pages


def events(page, count):
    """The first ``count`` notifications, each a whole ``next`` message, as (action, id, username, replayed)."""
    found = []
    for frame in page.wait_for_frames("notification", count):
        event = frame["payload"]["data"]["userChanges"]
        assert CURSOR.match(event["cursor"]), frame
        data = event["data"]
        assert frame == {
            "id": frame["id"],
            "type": "next",
            "payload": {
                "data": {
                    "userChanges": {
                        "action": event["action"],
                        "cause": PLAIN_CAUSES[event["action"]],
                        "model": "auth.user",
                        "cursor": event["cursor"],
                        "replayed": event["replayed"],
                        "data": data,
                    }
                }
            },
        }
        assert data is None or set(data) == {"id", "username"}, frame
        found.append((event["action"], data and data["id"], data and data["username"], event["replayed"]))
    return found


def rename(server, pk, username):
    reply = graphql(
        server,
        'mutation { updateUser(newUser: {id: "%s", username: %s}) { ok } }' % (pk, json.dumps(username)),
        **as_admin(server),
    )
    assert reply == {"data": {"updateUser": {"ok": True}}}, reply


def delete(server, pk):
    reply = graphql(server, 'mutation { deleteUser(id: "%s") { ok } }' % pk, **as_admin(server))
    assert reply == {"data": {"deleteUser": {"ok": True}}}, reply


def said(page, kind, text):
    page.wait(
        lambda: (kind, text) in page.log_summaries(), f"the log never said {text!r}: {page.log_summaries()}"
    )


def test_pages_that_dropped_their_socket_resume_after_their_last_cursor_and_count_what_they_missed(
    example, tabs
):
    pages = open_watching(tabs, example, 3)
    first = unique("first")
    a = create_user(example, first)
    for page in pages:
        # Live, or replayed when the server took the subscribe up after the save: heard once either way.
        [(action, pk, username, _)] = events(page, 1)
        assert (action, pk, username) == ("CREATE", a, first)

    for page in pages:
        page.click("#disconnect")
    for page in pages:
        page.wait(lambda page=page: page.status == "not connected", "the page did not disconnect")
    second, renamed = unique("second"), unique("renamed")
    b = create_user(example, second)
    rename(example, a, renamed)
    for page in pages:
        page.connect()

    for page in pages:
        said(page, "connection", f"resumed {DESCRIPTION}: 2 changes replayed")
        assert events(page, 3)[1:] == [("CREATE", b, second, True), ("UPDATE", a, renamed, True)]
    delete(example, b)
    for page in pages:
        assert events(page, 4)[3] == ("DELETE", b, second, False)
        # Heard in order, so nothing doubled came before it; and the count still stands.
        assert len(page.frames("notification")) == 4
        resumed = [text for kind, text in page.log_summaries() if text.startswith("resumed")]
        assert resumed == [f"resumed {DESCRIPTION}: 2 changes replayed"]
        [(description, state)] = page.subscriptions()
        assert (description, state) == (DESCRIPTION, "live")


def test_after_a_restart_the_page_replays_what_was_saved_meanwhile_or_reloads_when_history_is_gone(
    restartable, tabs
):
    example = restartable("resume")
    [page] = open_watching(tabs, example.server, 1)
    live = unique("live")
    a = create_user(example.server, live)
    assert events(page, 1)[0][:3] == ("CREATE", a, live)

    # Saved by another process while no server runs: the change log has it.
    offline = unique("offline")
    save = f"from django.contrib.auth.models import User; print(User.objects.create(username={offline!r}).pk)"
    made = []
    server = example.restart(page, while_stopped=lambda: made.append(int(example.shell(save).split()[-1])))
    page.wait_until_connected()
    said(page, "connection", f"resumed {DESCRIPTION}: 1 change replayed")
    assert events(page, 2)[1] == ("CREATE", made[0], offline, True)

    # The log is reset while the server is down (a database restored from a backup, say): another epoch.
    reset = unique("reset")
    restore = (
        "from django.contrib.auth.models import User; "
        "from graphene_django_subscriptions.models import ChangeLogEpoch; "
        "ChangeLogEpoch.objects.update(epoch='0123456789ab'); "
        f"User.objects.create(username={reset!r})"
    )
    server = example.restart(page, while_stopped=lambda: example.shell(restore))
    page.wait_until_connected()
    said(page, "connection", f"history gone: reloaded ({DESCRIPTION})")
    assert events(page, 3)[2] == ("RESYNC", None, None, True)
    assert f"could not resume {DESCRIPTION}" in [text for _, text in page.log_summaries()]
    # Reloaded: the tables show what the page could not be told of.
    page.wait(
        lambda: reset in [cells[1] for cells in page.rows("user").values()], "the tables were not read again"
    )

    back = unique("back")
    b = create_user(server, back)
    assert events(page, 4)[3] == ("CREATE", b, back, False)
    assert len(page.frames("notification")) == 4


def test_two_tabs_each_resume_their_own_subscriptions_at_the_same_moment(example, tabs):
    """One tab follows one user, another every group: each replays only what it follows."""
    name = unique("followed")
    pk = create_user(example, name)
    users_tab = tabs.open(f"{example.http}/?protocol=standard")
    groups_tab = tabs.open(f"{example.http}/?protocol=standard")
    for page in (users_tab, groups_tab):
        page.wait(lambda page=page: page.rows("user"), "the users table was never shown")
    users_tab.subscribe("users", "UPDATE", id=pk, fields=["USERNAME"])
    groups_tab.subscribe("groups", "ALL_ACTIONS", fields=["NAME"])
    users_tab.wait_until_live(f"users · update · id {pk} · username")
    groups_tab.wait_until_live("groups · all actions · every object · name")
    for page in (users_tab, groups_tab):
        page.click("#disconnect")
        page.wait(lambda page=page: page.status == "not connected", "the page did not disconnect")

    renamed, group = unique("renamed"), unique("group")
    with ThreadPoolExecutor(2) as pool:
        list(
            pool.map(
                lambda work: work(),
                [
                    lambda: rename(example, pk, renamed),
                    lambda: graphql(
                        example,
                        "mutation { createGroup(newGroup: {name: %s}) { ok } }" % json.dumps(group),
                        **as_admin(example),
                    ),
                ],
            )
        )
    for page in (users_tab, groups_tab):
        page.connect()
    said(users_tab, "connection", f"resumed users · update · id {pk} · username: 1 change replayed")
    said(groups_tab, "connection", "resumed groups · all actions · every object · name: 1 change replayed")
    [user_event] = users_tab.wait_for_frames("notification", 1)
    assert user_event["payload"]["data"]["userChanges"]["data"] == {"username": renamed}
    assert user_event["payload"]["data"]["userChanges"]["replayed"] is True
    [group_event] = groups_tab.wait_for_frames("notification", 1)
    assert group_event["payload"]["data"]["groupChanges"]["data"] == {"name": group}
    assert group_event["payload"]["data"]["groupChanges"]["replayed"] is True


def test_tabs_following_a_filter_see_groups_enter_change_leave_and_go(example, tabs):
    prefix = unique("team")
    watchers = [tabs.open(f"{example.http}/?protocol=standard") for _ in range(2)]
    editor = tabs.open(f"{example.http}/")
    description = f'groups · all actions · name_Startswith "{prefix}" · all fields'
    for watcher in watchers:
        watcher.wait(lambda watcher=watcher: watcher.rows("user"), "the users table was never shown")
        watcher.subscribe("groups", "ALL_ACTIONS", filter=("name_Startswith", prefix))
    for watcher in watchers:
        watcher.wait_until_live(description)

    pk, other, archive = move_groups_in_and_out(editor, prefix)

    expected = [
        ("CREATE", "CREATED", pk, f"{prefix}-a"),
        ("UPDATE", "UPDATED", pk, f"{prefix}-b"),
        ("DELETE", "LEFT", pk, archive),
        ("CREATE", "ENTERED", other, f"{prefix}-c"),
        ("DELETE", "DELETED", other, f"{prefix}-c"),
    ]
    for watcher in watchers:
        frames = watcher.wait_for_frames("notification", 5)
        heard = []
        for frame in frames:
            event = frame["payload"]["data"]["groupChanges"]
            assert frame == {
                "id": frame["id"],
                "type": "next",
                "payload": {
                    "data": {
                        "groupChanges": {
                            "action": event["action"],
                            "cause": event["cause"],
                            "model": "auth.group",
                            "cursor": event["cursor"],
                            "replayed": False,
                            "data": event["data"],
                        }
                    }
                },
            }
            heard.append((event["action"], event["cause"], event["data"]["id"], event["data"]["name"]))
        assert heard == expected
        summaries = [summary for kind, summary in watcher.log_summaries() if kind == "notification"]
        assert summaries[2:4] == [
            f"groups: delete auth.group #{pk} (left the filter)",
            f"groups: create auth.group #{other} (entered the filter)",
        ]
        assert (description, "live") in watcher.subscriptions()
