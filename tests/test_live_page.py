"""The example's live page at /, driven in headless Chromium against the real example server."""

import json
import re
import shutil

import pytest
import requests

from support.browser import Chromium, move_groups_in_and_out
from support.client import create_user, graphql, unique
from support.servers import ROOT

#: A browser (or a proxy) in front of the server: the same whatever the Django version.
pytestmark = pytest.mark.stack

SCREENSHOT = ROOT / "docs" / "live-page.png"


def user_frame(action, data):
    return {"stream": "users", "payload": {"action": action, "model": "auth.user", "data": data}}


def group_frame(action, data, cause=None):
    """A notification of the groups stream; a filtered subscription's also says its ``cause``."""
    payload = {"action": action, "model": "auth.group", "data": data}
    if cause is not None:
        payload["cause"] = cause
    return {"stream": "groups", "payload": payload}


def unsubscribed(action, stream="users"):
    return {"action": action, "operation": "unsubscribe", "ok": True, "stream": stream, "error": None}


def user_ids(server):
    """The ids of every user the server has."""
    return {int(user["id"]) for user in graphql(server, "{ users { id } }")["data"]["users"]}


def requests_sent(page):
    return [summary for kind, summary in page.log_summaries() if kind in ("http", "error")]


def test_the_page_and_graphiql_are_served(example):
    page = requests.get(f"{example.http}/", timeout=10)
    assert page.status_code == 200 and "Live notifications" in page.text
    # Everything comes from the project itself: no CDN, nothing to build.
    links = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert links and all(link.startswith(("/", "data:")) for link in links), links
    script = requests.get(f"{example.http}/static/example/live.js", timeout=10)
    assert script.status_code == 200 and "new WebSocket" in script.text
    graphiql = requests.get(f"{example.http}/graphql/", headers={"Accept": "text/html"}, timeout=10)
    assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()


def test_a_tab_sees_another_tabs_edit_with_only_the_fields_it_chose(example, tabs, workdir, request):
    watcher = tabs.open(f"{example.http}/")
    editor = tabs.open(f"{example.http}/")
    assert watcher.channel_id != editor.channel_id
    assert watcher.frames("connect") == [{"channel_id": watcher.channel_id, "connect": "success"}]

    name = unique("meaghan")
    pk = editor.create("user", username=name)
    watcher.subscribe("users", "UPDATE", id=pk, fields=["ID", "FIRST_NAME"])
    watcher.wait_until_live(f"users · update · id {pk} · id, first_name")
    assert watcher.wait_for_frames("confirmation", 1) == [
        {"action": "update", "operation": "subscribe", "ok": True, "stream": "users", "error": None}
    ]

    editor.edit("user", pk, firstName="Meaghan")

    assert watcher.wait_for_frames("notification", 1) == [
        user_frame("update", {"id": pk, "first_name": "Meaghan"})
    ]
    # The editing tab follows nothing, so its log has no notification.
    assert editor.frames("notification") == []
    # The watcher's table caught up with the change too.
    watcher.wait(lambda: watcher.rows("user").get(pk) == [str(pk), name, "Meaghan"], "table not refreshed")

    # The picture docs/tutorial.rst shows; --update-screenshot replaces it.
    shot = workdir / "live-page.png"
    watcher.screenshot(shot)
    assert shot.read_bytes().startswith(b"\x89PNG")
    if request.config.getoption("--update-screenshot"):
        shutil.copyfile(shot, SCREENSHOT)


def test_groups_created_and_deleted_in_one_tab_reach_the_other(example, tabs):
    watcher = tabs.open(f"{example.http}/")
    editor = tabs.open(f"{example.http}/")
    watcher.subscribe("groups", "ALL_ACTIONS")
    watcher.wait_until_live("groups · all actions · every object · all fields")

    name = unique("editors")
    pk = editor.create("group", name=name)
    editor.delete("group", pk)

    assert watcher.wait_for_frames("notification", 2) == [
        group_frame("create", {"id": pk, "name": name}),
        group_frame("delete", {"id": pk, "name": name}),
    ]


def test_tabs_following_a_filter_see_groups_enter_change_leave_and_go(example, tabs):
    prefix = unique("team")
    watchers = [tabs.open(f"{example.http}/") for _ in range(2)]
    editor = tabs.open(f"{example.http}/")
    description = f'groups · all actions · name_Startswith "{prefix}" · all fields'
    for watcher in watchers:
        watcher.subscribe("groups", "ALL_ACTIONS", filter=("name_Startswith", prefix))
    for watcher in watchers:
        watcher.wait_until_live(description)

    pk, other, archive = move_groups_in_and_out(editor, prefix)

    expected = [
        group_frame("create", {"id": pk, "name": f"{prefix}-a"}, "created"),
        group_frame("update", {"id": pk, "name": f"{prefix}-b"}, "updated"),
        group_frame("delete", {"id": pk, "name": archive}, "left"),
        group_frame("create", {"id": other, "name": f"{prefix}-c"}, "entered"),
        group_frame("delete", {"id": other, "name": f"{prefix}-c"}, "deleted"),
    ]
    for watcher in watchers:
        assert watcher.wait_for_frames("notification", 5) == expected
        summaries = [summary for kind, summary in watcher.log_summaries() if kind == "notification"]
        assert summaries[2:4] == [
            f"groups: delete auth.group #{pk} (left the filter)",
            f"groups: create auth.group #{other} (entered the filter)",
        ]
        # Leaving the filter is no deletion: the subscription stays.
        assert (description, "live") in watcher.subscriptions()


def test_after_unsubscribing_the_page_hears_nothing_more(example, tabs):
    pk = create_user(example, unique("ann"))
    watcher = tabs.open(f"{example.http}/")
    editor = tabs.open(f"{example.http}/")
    watcher.subscribe("users", "UPDATE", id=pk)
    watcher.subscribe("groups", "CREATE")
    users = f"users · update · id {pk} · all fields"
    watcher.wait_until_live(users)
    watcher.wait_until_live("groups · create · every object · all fields")

    watcher.unsubscribe(users)
    watcher.wait(lambda: users not in dict(watcher.subscriptions()), "the subscription is still listed")
    assert watcher.wait_for_frames("confirmation", 3)[2] == {
        "action": "update",
        "operation": "unsubscribe",
        "ok": True,
        "stream": "users",
        "error": None,
    }

    editor.edit("user", pk, lastName="Gone")
    # The group notification comes after the user's change was committed, so a
    # user notification would have arrived before it.
    name = unique("after")
    group = editor.create("group", name=name)
    assert watcher.wait_for_frames("notification", 1) == [group_frame("create", {"id": group, "name": name})]
    assert len(watcher.frames("notification")) == 1


def test_subscribing_again_to_the_same_object_replaces_the_field_choice(example, tabs):
    pk = create_user(example, unique("kim"))
    watcher = tabs.open(f"{example.http}/")
    editor = tabs.open(f"{example.http}/")
    watcher.subscribe("users", "UPDATE", id=pk, fields=["ID"])
    watcher.wait_until_live(f"users · update · id {pk} · id")
    watcher.subscribe("users", "UPDATE", id=pk, fields=["ID", "LAST_NAME"])
    watcher.wait_until_live(f"users · update · id {pk} · id, last_name")
    only = [(f"users · update · id {pk} · id, last_name", "live")]
    watcher.wait(lambda: watcher.subscriptions() == only, f"not replaced: {watcher.subscriptions()}")

    editor.edit("user", pk, lastName="Park")
    assert watcher.wait_for_frames("notification", 1) == [
        user_frame("update", {"id": pk, "last_name": "Park"})
    ]


def test_a_narrower_subscription_takes_its_action_from_a_wider_one(example, tabs):
    pk = create_user(example, unique("lee"))
    watcher = tabs.open(f"{example.http}/")
    editor = tabs.open(f"{example.http}/")
    watcher.subscribe("users", "ALL_ACTIONS", fields=["ID", "EMAIL"])
    watcher.wait_until_live("users · all actions · every object · id, email")
    watcher.subscribe("users", "UPDATE", fields=["ID", "LAST_NAME"])
    watcher.wait_until_live("users · update · every object · id, last_name")
    split = [
        ("users · create, delete · every object · id, email", "live"),
        ("users · update · every object · id, last_name", "live"),
    ]
    watcher.wait(lambda: watcher.subscriptions() == split, f"not split: {watcher.subscriptions()}")

    # Unsubscribing the older entry leaves the update subscription working.
    watcher.unsubscribe("users · create, delete · every object · id, email")
    watcher.wait(lambda: len(watcher.subscriptions()) == 1, "the entry is still listed")
    assert [frame["action"] for frame in watcher.wait_for_frames("confirmation", 4)[2:]] == [
        "create",
        "delete",
    ]
    editor.edit("user", pk, lastName="Lee")
    assert watcher.wait_for_frames("notification", 1) == [
        user_frame("update", {"id": pk, "last_name": "Lee"})
    ]


def test_a_double_click_creates_and_deletes_once(example, tabs):
    page = tabs.open(f"{example.http}/")
    before = len(page.rows("group"))
    name = unique("twice")
    pk = page.create("group", clicks=2, name=name)
    assert len(page.rows("group")) == before + 1
    # The second click comes while the first delete is on its way: no second question, no second request.
    assert page.delete("group", pk, clicks=2) == [f"Delete group #{pk} ({name})?"]
    page.wait(lambda: page.text("#groups-editor .message") == "done", "the delete was not confirmed")
    assert requests_sent(page) == ["createGroup", "deleteGroup"]


def test_delete_asks_first_and_cancelling_deletes_nothing(example, tabs):
    name = unique("alice")
    pk = create_user(example, name)
    page = tabs.open(f"{example.http}/")

    assert page.delete("user", pk, accept=False) == [f"Delete user #{pk} ({name})?"]
    # A mutation would have said "saving…" before the dialog's answer was back.
    assert page.text("#users-editor .message") == ""
    assert requests_sent(page) == []
    assert pk in page.rows("user") and pk in user_ids(example)

    assert page.delete("user", pk) == [f"Delete user #{pk} ({name})?"]
    assert requests_sent(page) == ["deleteUser"]
    assert pk not in user_ids(example)


# Every request body the page sends, kept in window.sentBodies as it goes out.
RECORD_REQUESTS = """
window.sentBodies = [];
const realFetch = window.fetch;
window.fetch = (resource, init) => {
  window.sentBodies.push(init.body);
  return realFetch(resource, init);
};
"""


def test_the_log_masks_the_password_a_new_user_gets(example, tabs):
    page = tabs.open(f"{example.http}/")
    page.read(RECORD_REQUESTS)
    pk = page.create("user", username=unique("secret"))

    queries = [json.loads(body)["query"] for body in page.read("return window.sentBodies;")]
    (sent,) = [query for query in queries if "createUser" in query]
    # The request itself carries the password (the input type requires one).
    quoted = re.search(r'password: ("[^"]*")', sent).group(1)
    password = json.loads(quoted)
    assert len(password) > 30
    texts = page.read(
        "return [...document.querySelectorAll('#frames li')].map((li) => li.textContent + (li.dataset.frame || ''));"
    )
    assert texts and not [text for text in texts if password in text]
    # The log shows the request as sent, but for the password.
    logged = page.read(
        "return [...document.querySelectorAll('#frames li[data-kind=\"http\"]')].find("
        "(li) => li.querySelector('.summary').textContent === 'createUser').querySelector('pre').textContent;"
    )
    assert logged.splitlines()[1] == sent.replace(quoted, '"\u2022\u2022\u2022\u2022"')
    assert pk in user_ids(example)


def test_deleting_a_followed_object_ends_its_subscriptions(example, tabs):
    pk = create_user(example, unique("gone"))
    watcher = tabs.open(f"{example.http}/")
    editor = tabs.open(f"{example.http}/")
    watcher.subscribe("users", "ALL_ACTIONS", id=pk, fields=["ID"])
    watcher.wait_until_live(f"users · all actions · id {pk} · id")
    watcher.start_editing("user", pk)

    editor.delete("user", pk)

    assert watcher.wait_for_frames("notification", 1) == [user_frame("delete", {"id": pk})]
    watcher.wait(lambda: watcher.subscriptions() == [], "the subscription is still listed")
    assert watcher.wait_for_frames("confirmation", 2)[1] == unsubscribed("all_actions")
    assert ("connection", f"users #{pk} was deleted: unsubscribing from it") in watcher.log_summaries()
    # The form that held the deleted user says so and is ready for a new one.
    watcher.wait(lambda: watcher.text("#users-editor .message") == f"user #{pk} was deleted", "form kept")
    assert watcher.text("#users-editor .save") == "Create user"


def test_deleting_an_object_followed_for_updates_only_ends_its_subscription(example, tabs):
    pk = create_user(example, unique("solo"))
    page = tabs.open(f"{example.http}/")
    page.subscribe("users", "UPDATE", id=pk)
    page.wait_until_live(f"users · update · id {pk} · all fields")

    page.delete("user", pk)

    page.wait(lambda: page.subscriptions() == [], "the subscription is still listed")
    assert page.wait_for_frames("confirmation", 2)[1] == unsubscribed("update")
    # Ended once, with the reason, though the table refresh after the delete also shows it gone.
    ended = [entry for entry in page.log_summaries() if "unsubscribing" in entry[1]]
    assert ended == [("connection", f"users #{pk} was deleted on this page: unsubscribing from it")]
    assert page.frames("notification") == []


def test_a_page_following_updates_only_notices_a_delete_in_another_window(example, tabs):
    pk = create_user(example, unique("elsewhere"))
    watcher = tabs.open(f"{example.http}/")
    watcher.subscribe("users", "UPDATE", id=pk)
    watcher.wait_until_live(f"users · update · id {pk} · all fields")

    # A browser of its own: the watcher never loses focus, so nothing but the page's
    # own timer can make it read its tables again.
    other = Chromium()
    try:
        other.open(f"{example.http}/").delete("user", pk)
    finally:
        other.quit()

    # No notification tells the watcher; its next table refresh does.
    watcher.wait(lambda: watcher.subscriptions() == [], "the subscription is still listed")
    assert watcher.wait_for_frames("confirmation", 2)[1] == unsubscribed("update")
    ended = [entry for entry in watcher.log_summaries() if "unsubscribing" in entry[1]]
    assert ended == [("connection", f"users #{pk} no longer exists: unsubscribing from it")]
    assert watcher.frames("notification") == []
    assert pk not in watcher.rows("user")


def test_a_refused_subscription_shows_the_servers_reason(example, tabs):
    page = tabs.open(f"{example.http}/")
    page.subscribe("users", "UPDATE", id=99999999)
    reason = "Unknown id '99999999' on stream 'users': no such object can be followed."
    page.wait(lambda: page.text("#subscribe-message") == reason, "no error shown")
    assert page.subscriptions() == []
    assert page.log_summaries()[-1] == ("error", "subscribe users · update · id 99999999")

    # The page and the server carry on.
    page.subscribe("groups", "CREATE")
    page.wait_until_live("groups · create · every object · all fields")


def test_a_wrong_socket_path_is_reported_and_not_retried(example, tabs):
    page = tabs.open(f"{example.http}/")
    first_id = page.channel_id
    page.connect("/nowhere/")
    url = f"ws://127.0.0.1:{example.port}/nowhere/"
    page.wait(lambda: page.status == "could not connect: check the host and path", page.status)
    assert page.channel_id is None
    assert page.log_summaries()[-1][0] == "error"
    assert page.log_summaries()[-1][1].startswith(f"could not connect to {url} (")

    # A pasted URL in the host box is read as its host.
    page.connect("/subscriptions/", host=f"http://127.0.0.1:{example.port}/graphql/")
    page.wait_until_connected(other_than=first_id)
    assert page.find("#ws-host").get_attribute("value") == f"127.0.0.1:{example.port}"


def test_a_refused_mutation_shows_the_field_and_the_reason(example, tabs):
    name = unique("taken")
    create_user(example, name)
    page = tabs.open(f"{example.http}/")
    page.wait(lambda: name in [cells[1] for cells in page.rows("user").values()], "users not listed")
    before = page.rows("user")
    assert page.save("user", username=name) == "username: A user with that username already exists."
    assert page.log_summaries()[-1] == ("error", "createUser")
    # Nothing was created, and the form still works.
    assert page.rows("user") == before
    assert page.create("user", username=unique("free"))


# The next request reaches the server, which does its work and answers; the page
# never sees that answer, as when a connection drops right after the server replied.
# The socket's confirmation is let through first, so the order is always the same.
LOSE_NEXT_REPLY = """
const realFetch = window.fetch;
window.fetch = async (...args) => {
  window.fetch = realFetch;
  const response = await realFetch(...args);
  await response.text();
  while (!document.querySelector('#frames li[data-kind="confirmation"]')) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new TypeError("Failed to fetch");
};
"""


def test_a_subscription_the_socket_confirmed_stands_when_its_http_reply_is_lost(example, tabs):
    page = tabs.open(f"{example.http}/")
    page.read(LOSE_NEXT_REPLY)
    page.subscribe("users", "CREATE", fields=["ID", "USERNAME"])
    page.wait_until_sent()

    assert page.subscriptions() == [("users · create · every object · id, username", "live")]
    assert page.text("#subscribe-message") == ""
    assert page.log_summaries()[-2:] == [
        ("error", "subscribe users · create · every object"),
        ("connection", "the socket confirmed create on users: still subscribed"),
    ]
    name = unique("kept")
    pk = create_user(example, name)
    assert page.wait_for_frames("notification", 1) == [user_frame("create", {"id": pk, "username": name})]


def test_after_a_server_restart_the_page_reconnects_and_subscribes_again(restartable, tabs):
    example = restartable("restart")
    server = example.server
    page = tabs.open(f"{server.http}/")
    first_id = page.channel_id
    page.subscribe("users", "CREATE", fields=["ID", "USERNAME"])
    page.wait_until_live("users · create · every object · id, username")
    page.wait_until_sent()

    server = example.restart(page)

    second_id = page.wait_until_connected(other_than=first_id)
    page.wait_until_live("users · create · every object · id, username")
    confirmations = page.wait_for_frames("confirmation", 2)
    assert confirmations[1] == {
        "action": "create",
        "operation": "subscribe",
        "ok": True,
        "stream": "users",
        "error": None,
    }
    assert page.frames("connect")[-1] == {"channel_id": second_id, "connect": "success"}
    # It waited longer after each failed try: 0.5 s, 1 s, 2 s, ... up to 8 s.
    delays = [
        float(summary.split("reconnecting in ")[1].split(" s")[0])
        for kind, summary in page.log_summaries()
        if kind == "connection" and "reconnecting in" in summary
    ]
    assert delays and delays == [min(0.5 * 2**tries, 8) for tries in range(len(delays))], delays

    name = unique("back")
    pk = create_user(server, name)
    assert page.wait_for_frames("notification", 1) == [user_frame("create", {"id": pk, "username": name})]


def test_a_reconnect_clears_the_last_subscribe_error(restartable, tabs):
    example = restartable("stale-error")
    server = example.server
    page = tabs.open(f"{server.http}/")
    first_id = page.channel_id
    page.subscribe("users", "UPDATE", id=99999999)
    reason = "Unknown id '99999999' on stream 'users': no such object can be followed."
    page.wait(lambda: page.text("#subscribe-message") == reason, "no error shown")

    example.restart(page)
    page.wait_until_connected(other_than=first_id)
    # The error was about the old socket's request: the new one starts clean.
    assert page.text("#subscribe-message") == ""


# The next request waits in the page until the socket has a new channel_id, then goes
# out with the old one, as a request held up on the network across a reconnect would.
# Requests made meanwhile (the page subscribing again) wait until its reply is read.
HOLD_NEXT_REQUEST = """
const realFetch = window.fetch;
const channelId = () => document.getElementById("channel-id").textContent;
const sentWith = channelId();
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let held = null;
window.fetch = async (...args) => {
  if (held) {
    await held;
    await pause(100);
    return realFetch(...args);
  }
  held = (async () => {
    while (channelId() === sentWith || channelId() === "none yet") await pause(20);
    const response = await realFetch(...args);
    return new Response(await response.text(), { status: response.status, headers: response.headers });
  })();
  return held;
};
"""


def test_an_answer_about_the_old_socket_neither_shows_nor_drops_the_subscription(restartable, tabs):
    example = restartable("held")
    server = example.server
    page = tabs.open(f"{server.http}/")
    first_id = page.channel_id
    page.read(HOLD_NEXT_REQUEST)
    page.subscribe("users", "CREATE", fields=["ID", "USERNAME"])

    server = example.restart(page)
    page.wait_until_connected(other_than=first_id)
    page.wait_until_sent()

    # The new server refused the old channel_id; the page takes that as news about the old socket.
    (refused,) = page.read(
        "return [...document.querySelectorAll('#frames li[data-kind=\"error\"] pre')].map((pre) => pre.textContent);"
    )
    assert f'channelId: "{first_id}"' in refused
    assert json.loads(refused.split("\u2192 ", 1)[1]) == {
        "data": {
            "userSubscription": {
                "ok": False,
                "error": "That socket is no longer connected: reconnect and use the channel_id of the new connection.",
                "stream": "users",
                "operation": "SUBSCRIBE",
                "action": "CREATE",
            }
        }
    }
    assert page.text("#subscribe-message") == ""
    page.wait_until_live("users · create · every object · id, username")
    name = unique("held")
    pk = create_user(server, name)
    assert page.wait_for_frames("notification", 1) == [user_frame("create", {"id": pk, "username": name})]
    assert page.subscriptions() == [("users · create · every object · id, username", "live")]
