"""Safe on the internet: each attack of the access-control review, reproduced against a real server.

The victim is a logged-in browser user; the attacker runs a page on another
site (which can make the victim's browser open sockets and send forms with
the victim's cookies) or uses their own socket and account.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from urllib.parse import urlsplit

import pytest
import requests
import websocket

from support.client import (
    ADMIN,
    QUIET,
    TIMEOUT,
    Socket,
    assert_nothing_more,
    at_once,
    close_codes,
    create_group,
    graphql,
    new_login,
    post,
    rename_group,
    subscribe,
    subscription_request,
    unique,
    wait_for,
)
from support.servers import LEGACY

FOREIGN_ORIGIN = "http://attacker.example"
CLOSE_ACCESS_ENDED = 4401
NOT_YOURS = (
    "This channelId belongs to a socket opened by another user: send the request as the user who opened "
    "the socket (log in before connecting it), or use your own socket's channel_id."
)
CSRF_REFUSED = (
    "CSRF check failed: a request that carries the session cookie must send Django's CSRF token in the "
    "X-CSRFToken header (read it from the csrftoken cookie)."
)
NOT_JSON = (
    "Subscribe and unsubscribe requests must be POSTed as application/json (or application/graphql): "
    "a form, text/plain or GET request could have been sent by another site's page."
)
INACTIVE = "This socket's user is no longer active: log in again and open a new socket."
GONE = "That socket is no longer connected: reconnect and use the channel_id of the new connection."


def log_in(server, username):
    """A browser session logged in as a new user: ``(session, cookie, user id)``."""
    session = requests.Session()
    pk = post(server, "/testing/login/", {"username": username}, session=session)["id"]
    return session, f"sessionid={session.cookies['sessionid']}", pk


def reply_of(field, action, error=None, operation="SUBSCRIBE"):
    return {
        "ok": error is None,
        "error": error,
        "stream": STREAMS[field],
        "operation": operation,
        "action": action,
    }


STREAMS = {
    "groupSubscription": "groups",
    "userSubscription": "users",
    "ownedSubscription": "owned",
    "ownRowSubscription": "own-row",
}


def ask(server, field, socket, session=None, action="CREATE", **kwargs):
    """Send a subscribe request as ``session``'s user (anonymous without one); return the field's result."""
    query = subscription_request(field, socket.channel_id, action=action, **kwargs)
    return graphql(server, query, session=session)["data"][field]


def group_created(gid, name):
    return {
        "stream": "groups",
        "payload": {"action": "create", "model": "auth.group", "data": {"id": gid, "name": name}},
    }


def hear_a_new_group(server, *sockets):
    """Create a group through ``server``: each of ``sockets`` hears of it, and of nothing else."""
    name = unique("g")
    gid = create_group(server, name)
    for sock in sockets:
        assert sock.recv() == group_created(gid, name)
    assert_nothing_more(*sockets)


# ---- 1. Cross-site WebSocket hijacking --------------------------------------------------


def test_a_page_of_another_site_cannot_open_a_socket_even_with_the_visitors_cookie(server):
    logged = len(server.log())
    _, cookie, _ = log_in(server, unique("victim"))
    for sent_cookie in (None, cookie):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(server.ws, timeout=TIMEOUT, cookie=sent_cookie, origin=FOREIGN_ORIGIN)
        assert refused.value.status_code == 403
    # No browser opens a socket without an Origin; a client that sends cookies without one is refused.
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.ws, timeout=TIMEOUT, cookie=cookie, suppress_origin=True)
    assert refused.value.status_code == 403
    # The site's own page connects.
    own = Socket(server, cookie=cookie, origin=server.http)
    try:
        assert own.hello == {"channel_id": own.channel_id, "connect": "success"}
    finally:
        own.close()
    # Each refusal is one line in the server's log that says why.
    path = urlsplit(server.ws).path
    reasons = [line for line in server.log()[logged:].splitlines() if "Refused a WebSocket" in line]
    foreign = (
        f"Refused a WebSocket to '{path}': its Origin '{FOREIGN_ORIGIN}' is not a host of ALLOWED_HOSTS "
        "(localhost, 127.0.0.1, [::1]); a page of another site may not open a socket with its "
        "visitor's cookies."
    )
    cookie_only = (
        f"Refused a WebSocket to '{path}': it has no Origin header but carries cookies; browsers always send "
        "Origin, and other clients that hold cookies must send the site's origin too."
    )
    assert reasons == [foreign, foreign, cookie_only], reasons


def test_a_client_that_is_no_browser_connects_without_an_origin(server):
    # Mobile apps, Node and scripts send no Origin and carry no visitor's cookies: served,
    # anonymous or with a token of their own. Several at once.
    def connect(_):
        conn = websocket.create_connection(server.ws, timeout=TIMEOUT, suppress_origin=True)
        try:
            hello = json.loads(conn.recv())
            assert hello == {"channel_id": hello["channel_id"], "connect": "success"}
        finally:
            conn.close()
        return True

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(connect, range(4))) == [True] * 4


# ---- 2. Cross-site subscribe ---------------------------------------------------------------


def cross_site_requests(query):
    """What a page of another site can make a browser POST to the GraphQL endpoint."""
    return {
        "form": {"data": {"query": query}},
        "multipart": {"files": {"query": (None, query)}},
        "text/plain": {"params": {"query": query}, "data": query, "headers": {"Content-Type": "text/plain"}},
        # Only possible cross-site where CORS lets the other site in; the token still stops it.
        "json without the CSRF token": {"json": {"query": query}},
    }


def test_a_cross_site_subscribe_with_the_victims_cookies_is_refused(server):
    session, cookie, _ = log_in(server, unique("victim"))
    victim = Socket(server, cookie=cookie)
    try:
        query = subscription_request("groupSubscription", victim.channel_id, action="CREATE")
        for kind, request in cross_site_requests(query).items():
            headers = dict(request.pop("headers", {}), Origin=FOREIGN_ORIGIN)
            response = requests.post(
                f"{server.http}/graphql/",
                cookies=session.cookies,
                headers=headers,
                timeout=TIMEOUT,
                **request,
            )
            assert (kind, response.status_code, response.json()) == (
                kind,
                403,
                {"errors": [{"message": CSRF_REFUSED}]},
            )
        create_group(server, unique("g"))
        assert_nothing_more(victim)
        # The page itself sends the token, and its request works.
        assert ask(server, "groupSubscription", victim, session=session) == reply_of(
            "groupSubscription", "CREATE"
        )
        assert victim.recv()["ok"] is True
    finally:
        victim.close()


def test_a_subscribe_request_sent_as_a_form_is_refused_without_cookies_too(server, socket):
    query = subscription_request("groupSubscription", socket.channel_id, action="CREATE")
    for kind, request in cross_site_requests(query).items():
        if kind.startswith("json"):
            continue
        reply = requests.post(f"{server.http}/graphql/", timeout=TIMEOUT, **request).json()
        assert (kind, reply) == (
            kind,
            {"data": {"groupSubscription": reply_of("groupSubscription", "CREATE", NOT_JSON)}},
        )
    create_group(server, unique("g"))
    assert_nothing_more(socket)


def test_the_subscribe_field_refuses_cross_site_requests_behind_a_csrf_exempt_view(server):
    # Many projects route graphene-django's own view with csrf_exempt; the field checks by itself.
    session, cookie, _ = log_in(server, unique("victim"))
    victim = Socket(server, cookie=cookie)
    try:
        url = f"{server.http}/testing/stock-graphql/"
        query = subscription_request("groupSubscription", victim.channel_id, action="CREATE")
        expected = {
            "form": NOT_JSON,
            "multipart": NOT_JSON,
            "text/plain": NOT_JSON,
            "json without the CSRF token": CSRF_REFUSED,
        }
        for kind, request in cross_site_requests(query).items():
            response = requests.post(url, cookies=session.cookies, timeout=TIMEOUT, **request)
            assert (kind, response.json()) == (
                kind,
                {"data": {"groupSubscription": reply_of("groupSubscription", "CREATE", expected[kind])}},
            )
        create_group(server, unique("g"))
        assert_nothing_more(victim)
        token = {"X-CSRFToken": session.cookies["csrftoken"]}
        reply = session.post(url, json={"query": query}, headers=token, timeout=TIMEOUT).json()
        assert reply == {"data": {"groupSubscription": reply_of("groupSubscription", "CREATE")}}
        assert victim.recv()["ok"] is True
    finally:
        victim.close()


if LEGACY:
    # graphene-django 2's own view runs no subscription operations at all: nothing to protect there.
    del test_the_subscribe_field_refuses_cross_site_requests_behind_a_csrf_exempt_view


def test_a_client_that_authenticates_without_cookies_needs_no_csrf_token(server):
    name = unique("token")
    _, cookie, _ = log_in(server, name)
    sock = Socket(server, cookie=cookie)
    try:
        query = subscription_request("groupSubscription", sock.channel_id, action="CREATE")
        response = requests.post(
            f"{server.http}/graphql/",
            json={"query": query},
            headers={"Authorization": f"Token {name}"},
            timeout=TIMEOUT,
        )
        assert response.json() == {"data": {"groupSubscription": reply_of("groupSubscription", "CREATE")}}
        assert sock.recv()["ok"] is True
        hear_a_new_group(server, sock)
    finally:
        sock.close()


# ---- 3. A channelId belongs to the user who opened the socket -----------------------------


def test_a_channel_id_serves_only_the_user_who_opened_the_socket(server, socket):
    alice_session, alice_cookie, _ = log_in(server, unique("alice"))
    bob_session, _, _ = log_in(server, unique("bob"))
    alice = Socket(server, cookie=alice_cookie)
    try:
        refused = reply_of("groupSubscription", "CREATE", NOT_YOURS)
        # A logged-in user's request cannot subscribe an anonymous socket (the attacker's) ...
        assert ask(server, "groupSubscription", socket, session=alice_session) == refused
        # ... nor can an anonymous request or another user subscribe a logged-in user's socket.
        assert ask(server, "groupSubscription", alice) == refused
        assert ask(server, "groupSubscription", alice, session=bob_session) == refused
        assert ask(server, "groupSubscription", alice, session=bob_session, operation="UNSUBSCRIBE") == dict(
            refused, operation="UNSUBSCRIBE"
        )
        create_group(server, unique("g"))
        assert_nothing_more(socket, alice)
    finally:
        alice.close()


def test_many_users_at_once_each_subscribe_their_own_socket_and_none_of_their_neighbours(server):
    users = [log_in(server, unique(f"user{index}-")) for index in range(8)]
    sockets = [Socket(server, cookie=cookie) for _, cookie, _ in users]
    try:
        jobs = []
        for index, (session, _, _) in enumerate(users):
            jobs.append((session, sockets[index], None))
            jobs.append((session, sockets[(index + 1) % len(sockets)], NOT_YOURS))
        with ThreadPoolExecutor(len(jobs)) as pool:
            results = list(
                pool.map(lambda job: ask(server, "groupSubscription", job[1], session=job[0]), jobs)
            )
        assert results == [reply_of("groupSubscription", "CREATE", error) for _, _, error in jobs]
        for sock in sockets:
            assert sock.recv()["ok"] is True
        hear_a_new_group(server, *sockets)
    finally:
        for sock in sockets:
            sock.close()


# ---- 4. Per-recipient authorization at delivery ----------------------------------------------


def owned_frame(action, gid, name, viewer, cause=None):
    payload = {"action": action, "model": "auth.group", "data": {"id": gid, "name": name, "viewer": viewer}}
    if cause is not None:  # it entered or left the recipient's view
        payload["cause"] = cause
    return {"stream": "owned", "payload": payload}


def runs(server):
    return requests.get(f"{server.http}/testing/runs/", timeout=TIMEOUT).json()


def no_owned_groups(server):
    groups = requests.get(f"{server.http}/testing/groups/", timeout=TIMEOUT).json()
    return not [name for name in groups if name.endswith(".owned")]


def test_a_rule_decides_per_recipient_what_each_user_hears_once_per_user_not_per_socket(server, socket):
    wait_for(lambda: no_owned_groups(server))  # sockets of earlier tests have gone
    alice, bob = unique("alice"), unique("bob")
    alice_session, alice_cookie, _ = log_in(server, alice)
    bob_session, bob_cookie, _ = log_in(server, bob)
    listeners = [
        (Socket(server, cookie=alice_cookie), alice_session),
        (Socket(server, cookie=alice_cookie), alice_session),
        (Socket(server, cookie=bob_cookie), bob_session),
        (socket, None),
    ]
    try:
        with ThreadPoolExecutor(len(listeners)) as pool:
            list(
                pool.map(
                    lambda pair: subscribe(
                        server, pair[0], field="ownedSubscription", action="ALL_ACTIONS", session=pair[1]
                    ),
                    listeners,
                )
            )
        (alice_1, _), (alice_2, _), (bob_socket, _), _ = listeners
        before = runs(server)
        alices_name, bobs_name = f"{alice}-team", f"{bob}-team"
        alices, bobs = create_group(server, alices_name), create_group(server, bobs_name)
        graphql(server, "mutation { deleteGroup(id: %d) { ok } }" % alices, headers=ADMIN)
        for sock in (alice_1, alice_2):
            assert sock.recv() == owned_frame("create", alices, alices_name, alice)
            assert sock.recv() == owned_frame("delete", alices, alices_name, alice)
        assert bob_socket.recv() == owned_frame("create", bobs, bobs_name, bob)
        assert_nothing_more(*(sock for sock, _ in listeners))
        after = runs(server)
        # Three changes, three audiences (alice, bob, anonymous): the rule ran once per audience and
        # change, never per socket; the serializer ran once per change and audience that may see it.
        assert (after["owned_checks"] - before["owned_checks"], after["owned"] - before["owned"]) == (9, 3)
    finally:
        for sock, _ in listeners[:3]:
            sock.close()


def test_an_object_that_leaves_a_users_view_is_deleted_for_them_and_created_for_who_sees_it_now(
    server, socket
):
    # The owned stream's rule shows each user the groups named after them: renaming alice's group
    # after bob takes it from alice's view into bob's. Alice hears a delete showing the group as she
    # last saw it (never its new name, which is not hers to see), bob a create; the anonymous socket
    # hears nothing, and a socket that follows only updates hears nothing of an object leaving.
    alice, bob = unique("alice"), unique("bob")
    alice_session, alice_cookie, _ = log_in(server, alice)
    bob_session, bob_cookie, _ = log_in(server, bob)
    alice_all, alice_updates = Socket(server, cookie=alice_cookie), Socket(server, cookie=alice_cookie)
    bob_all, bob_creates = Socket(server, cookie=bob_cookie), Socket(server, cookie=bob_cookie)
    listeners = [
        (alice_all, alice_session, "ALL_ACTIONS"),
        (alice_updates, alice_session, "UPDATE"),
        (bob_all, bob_session, "ALL_ACTIONS"),
        (bob_creates, bob_session, "CREATE"),
        (socket, None, "ALL_ACTIONS"),
    ]
    try:
        at_once(
            len(listeners),
            lambda n: subscribe(
                server,
                listeners[n][0],
                field="ownedSubscription",
                action=listeners[n][2],
                session=listeners[n][1],
            ),
        )
        first, kept, second, third = f"{alice}-team", f"{alice}-squad", f"{bob}-team", f"{bob}-crew"
        gid = create_group(server, first)
        for name in (kept, second, third):
            rename_group(server, gid, name)
        assert alice_all.recv() == owned_frame("create", gid, first, alice)
        assert alice_all.recv() == owned_frame("update", gid, kept, alice)
        assert alice_all.recv() == owned_frame("delete", gid, kept, alice, cause="left")
        assert alice_updates.recv() == owned_frame("update", gid, kept, alice)
        assert bob_all.recv() == owned_frame("create", gid, second, bob, cause="entered")
        assert bob_all.recv() == owned_frame("update", gid, third, bob)
        assert bob_creates.recv() == owned_frame("create", gid, second, bob, cause="entered")
        assert_nothing_more(*(sock for sock, *_ in listeners))
    finally:
        for sock in (alice_all, alice_updates, bob_all, bob_creates):
            sock.close()


def test_an_object_the_rule_hides_looks_like_a_missing_one(server):
    alice, bob = unique("alice"), unique("bob")
    alice_session, alice_cookie, _ = log_in(server, alice)
    bobs = create_group(server, f"{bob}-secret")
    alices = create_group(server, f"{alice}-own")
    sock = Socket(server, cookie=alice_cookie)
    try:
        for pk in (bobs, 2_000_000_000):
            error = f"Unknown id '{pk}' on stream 'owned': no such object can be followed."
            result = ask(server, "ownedSubscription", sock, session=alice_session, action="UPDATE", id=pk)
            assert result == reply_of("ownedSubscription", "UPDATE", error)
        assert ask(
            server, "ownedSubscription", sock, session=alice_session, action="UPDATE", id=alices
        ) == reply_of("ownedSubscription", "UPDATE")
        assert sock.recv()["ok"] is True
        assert_nothing_more(sock)
    finally:
        sock.close()


def test_the_example_users_stream_shows_an_email_address_to_its_own_user_only(server, socket):
    name = unique("private")
    session, cookie, pk = log_in(server, name)
    own = Socket(server, cookie=cookie)
    try:
        subscribe(server, own, id=pk, session=session)
        subscribe(server, socket, id=pk)
        # The login saved the user (last_login); on a loaded machine the outbox may deliver
        # that save after these subscriptions: let it pass before the change under test.
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda sock: sock.drain(), (own, socket)))
        post(server, f"/testing/user/{pk}/", {"email": "me@example.com", "is_superuser": True})
        public = {"id": pk, "username": name, "first_name": "", "last_name": ""}
        update = {"stream": "users", "payload": {"action": "update", "model": "auth.user"}}
        assert own.recv() == {
            **update,
            "payload": {**update["payload"], "data": {**public, "email": "me@example.com"}},
        }
        assert socket.recv() == {**update, "payload": {**update["payload"], "data": public}}
        assert_nothing_more(own, socket)
    finally:
        own.close()


def refused(field, permission):
    message = f"Permission denied: log in as a user with the {permission} permission."
    return {"data": {field: {"ok": False, "errors": [{"field": "non_field_errors", "messages": [message]}]}}}


def test_the_example_mutations_need_a_logged_in_user_with_their_permission(server, socket):
    subscribe(server, socket, field="groupSubscription", action="ALL_ACTIONS")
    pk = post(server, "/testing/user/", {"username": unique("target")})["id"]
    group = create_group(server, unique("target"))
    assert socket.recv()["payload"]["action"] == "create"
    mutations = {
        "createUser": ('mutation { createUser(newUser: {username: "%s", password: "pw"}) { ok errors { field messages } } }' % unique("made"), "auth.add_user"),
        "updateUser": ('mutation { updateUser(newUser: {id: %d, firstName: "x"}) { ok errors { field messages } } }' % pk, "auth.change_user"),
        "deleteUser": ("mutation { deleteUser(id: %d) { ok errors { field messages } } }" % pk, "auth.delete_user"),
        "createGroup": ('mutation { createGroup(newGroup: {name: "%s"}) { ok errors { field messages } } }' % unique("made"), "auth.add_group"),
        "deleteGroup": ("mutation { deleteGroup(id: %d) { ok errors { field messages } } }" % group, "auth.delete_group"),
    }  # fmt: skip
    # Anonymous, and a logged-in user without the permission (with every other one), at once.
    *_, stranger, _ = new_login(server)
    others = {permission for _, permission in mutations.values()}
    with ThreadPoolExecutor(8) as pool:
        for field, (mutation, permission) in mutations.items():
            *_, almost, _ = new_login(server, permissions=sorted(others - {permission}))
            replies = list(pool.map(partial(graphql, server, mutation), (None, stranger, almost)))
            assert replies == [refused(field, permission)] * 3
    assert_nothing_more(socket)  # nothing was created, changed or deleted
    users = {int(user["id"]) for user in graphql(server, "{ users { id } }")["data"]["users"]}
    assert pk in users
    # With the permission, the same mutation runs.
    *_, editor, _ = new_login(server, permissions=["auth.delete_group"])
    assert graphql(server, mutations["deleteGroup"][0], session=editor) == {
        "data": {"deleteGroup": {"ok": True, "errors": None}}
    }
    assert socket.recv()["payload"]["action"] == "delete"


def test_the_example_users_query_lists_the_users_its_stream_shows(server):
    # The users stream shows active users only; its query must not list the others.
    hidden = post(server, "/testing/user/", {"username": unique("hidden"), "is_active": False})["id"]
    shown = post(server, "/testing/user/", {"username": unique("shown")})["id"]
    listed = {int(user["id"]) for user in graphql(server, "{ users { id } }")["data"]["users"]}
    assert (shown in listed, hidden in listed) == (True, False)


def test_the_example_mutations_return_a_user_as_any_visitor_may_read_it(server):
    pk = post(
        server,
        "/testing/user/",
        {"username": unique("rich"), "email": "boss@example.com", "is_superuser": True},
    )["id"]
    change = 'mutation { updateUser(newUser: {id: %d, firstName: "x"}) { ok user { %s } } }'
    # A user who may change users, but is neither staff nor the user changed.
    *_, editor, _ = new_login(server, permissions=["auth.change_user"])
    reply = graphql(server, change % (pk, "id email"), session=editor)
    assert reply == {"data": {"updateUser": {"ok": True, "user": {"id": str(pk), "email": ""}}}}
    for secret in ("password", "isSuperuser"):
        errors = graphql(server, change % (pk, secret), session=editor)["errors"]
        # graphql-core 2 quotes names with ", graphql-core 3 with '.
        messages = [error["message"].replace('"', "'") for error in errors]
        assert messages == [f"Cannot query field '{secret}' on type 'UserType'."]


# ---- 5. Logout and deactivation end access ------------------------------------------------------


def test_logging_out_closes_the_sockets_of_that_session_and_only_those(server, socket):
    name = unique("leaving")
    leaving_session, leaving_cookie, _ = log_in(server, name)
    staying_session, staying_cookie, _ = log_in(server, name)  # the same user on another device
    leaving, staying = Socket(server, cookie=leaving_cookie), Socket(server, cookie=staying_cookie)
    try:
        subscribe(server, leaving, field="groupSubscription", action="CREATE", session=leaving_session)
        subscribe(server, staying, field="groupSubscription", action="CREATE", session=staying_session)
        subscribe(server, socket, field="groupSubscription", action="CREATE")
        post(server, "/testing/logout/", {}, session=leaving_session)
        assert leaving.recv_close() == CLOSE_ACCESS_ENDED
        # Its channelId names nothing any more, whoever asks.
        for session in (None, leaving_session, staying_session):
            assert ask(server, "groupSubscription", leaving, session=session) == reply_of(
                "groupSubscription", "CREATE", GONE
            )
        hear_a_new_group(server, staying, socket)
    finally:
        leaving.close()
        staying.close()


def test_many_sessions_logging_out_at_once_each_close_their_own_socket(server, socket):
    users = [log_in(server, unique(f"out{index}-")) for index in range(6)]
    sockets = [Socket(server, cookie=cookie) for _, cookie, _ in users]
    try:
        subscribe(server, socket, field="groupSubscription", action="CREATE")
        with ThreadPoolExecutor(len(users)) as pool:
            list(pool.map(lambda user: post(server, "/testing/logout/", {}, session=user[0]), users))
        assert close_codes(sockets) == [CLOSE_ACCESS_ENDED] * len(sockets)
        hear_a_new_group(server, socket)
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
def test_a_deactivated_or_deleted_user_loses_every_socket(server, socket, how):
    name = unique(how)
    first_session, first_cookie, pk = log_in(server, name)
    _, second_cookie, _ = log_in(server, name)
    sockets = [Socket(server, cookie=first_cookie), Socket(server, cookie=second_cookie)]
    try:
        subscribe(server, sockets[0], field="groupSubscription", action="CREATE", session=first_session)
        if how == "deactivated":
            post(server, f"/testing/user/{pk}/", {"is_active": False})
        else:
            assert graphql(server, "mutation { deleteUser(id: %d) { ok } }" % pk, headers=ADMIN)["data"][
                "deleteUser"
            ]["ok"]
        assert close_codes(sockets) == [CLOSE_ACCESS_ENDED] * 2
        assert ask(server, "groupSubscription", sockets[0], session=first_session) == reply_of(
            "groupSubscription", "CREATE", GONE
        )
        create_group(server, unique("g"))
        assert_nothing_more(socket)
    finally:
        for sock in sockets:
            sock.close()


def test_a_password_change_closes_every_socket_opened_before_it(server, socket):
    name = unique("careful")
    first_session, first_cookie, _ = log_in(server, name)
    second_session, second_cookie, _ = log_in(server, name)
    other_session, other_cookie, _ = log_in(server, unique("other"))
    sockets = [Socket(server, cookie=first_cookie), Socket(server, cookie=second_cookie)]
    other = Socket(server, cookie=other_cookie)
    try:
        subscribe(server, socket, field="groupSubscription", action="CREATE")
        subscribe(server, other, field="groupSubscription", action="CREATE", session=other_session)
        post(server, "/testing/password/", {"password": "a new one"}, session=second_session)
        # Django ends the user's other sessions; every socket opened with the old password closes.
        assert close_codes(sockets) == [CLOSE_ACCESS_ENDED] * 2
        # The session that changed the password stays logged in and opens a new socket.
        renewed = Socket(server, cookie=f"sessionid={second_session.cookies['sessionid']}")
        try:
            subscribe(server, renewed, field="groupSubscription", action="CREATE", session=second_session)
            hear_a_new_group(server, renewed, socket, other)
        finally:
            renewed.close()
    finally:
        for sock in sockets + [other]:
            sock.close()


def test_another_user_logging_in_on_the_same_browser_closes_the_first_users_socket(server, socket):
    session, cookie, _ = log_in(server, unique("first"))
    first = Socket(server, cookie=cookie)
    try:
        subscribe(server, first, field="groupSubscription", action="CREATE", session=session)
        subscribe(server, socket, field="groupSubscription", action="CREATE")
        # Django's login() of a different user deletes the session without a logout.
        post(server, "/testing/login/", {"username": unique("second")}, session=session)
        assert first.recv_close() == CLOSE_ACCESS_ENDED
        hear_a_new_group(server, socket)
    finally:
        first.close()


def test_a_user_deactivated_without_signals_can_subscribe_no_more_from_an_open_socket(server):
    session, cookie, pk = log_in(server, unique("quiet"))
    sock = Socket(server, cookie=cookie)
    try:
        post(server, f"/testing/user/{pk}/deactivate-quietly/", {})
        sock.send(
            {
                "stream": "groups",
                "payload": {"action": "subscribe", "data": {"action": "create"}, "request_id": "q"},
            }
        )
        assert sock.recv() == {
            "stream": "groups",
            "payload": {
                "action": "subscribe",
                "data": None,
                "errors": [INACTIVE],
                "response_status": 403,
                "request_id": "q",
            },
        }
        assert ask(server, "groupSubscription", sock, session=session) == reply_of(
            "groupSubscription", "CREATE", INACTIVE
        )
        create_group(server, unique("g"))
        assert_nothing_more(sock, quiet=QUIET)  # a marker would be refused to the inactive user
    finally:
        sock.close()


def test_logging_out_through_one_server_closes_the_socket_another_server_holds(redis_cluster):
    _, _, first, second = redis_cluster
    session, cookie, _ = log_in(first, unique("roaming"))
    held = Socket(second, cookie=cookie)
    bystander = Socket(second)
    try:
        subscribe(second, held, field="groupSubscription", action="CREATE", session=session)
        subscribe(second, bystander, field="groupSubscription", action="CREATE")
        post(first, "/testing/logout/", {}, session=session)
        assert held.recv_close() == CLOSE_ACCESS_ENDED
        hear_a_new_group(first, bystander)
    finally:
        held.close()
        bystander.close()


# ---- 6. Ids: the Python value, and no existence oracle -------------------------------------------


def test_a_permission_gets_the_id_as_the_models_value_and_refuses_alike_whether_or_not_it_exists(server):
    name = unique("self")
    session, cookie, pk = log_in(server, name)
    _, _, other = log_in(server, unique("other"))
    sock = Socket(server, cookie=cookie)
    try:
        refused = "Permission denied: follow your own user only."
        for target in (other, 2_000_000_000):
            result = ask(server, "ownRowSubscription", sock, session=session, action="UPDATE", id=target)
            assert result == reply_of("ownRowSubscription", "UPDATE", refused)
            sock.send(
                {
                    "stream": "own-row",
                    "payload": {
                        "action": "subscribe",
                        "pk": target,
                        "data": {"action": "update"},
                        "request_id": "r",
                    },
                }
            )
            assert sock.recv() == {
                "stream": "own-row",
                "payload": {
                    "action": "subscribe",
                    "data": None,
                    "errors": [refused],
                    "response_status": 403,
                    "request_id": "r",
                },
            }
        result = ask(server, "ownRowSubscription", sock, session=session, action="UPDATE", id=pk)
        assert result == reply_of("ownRowSubscription", "UPDATE")
        assert sock.recv()["ok"] is True
        post(server, f"/testing/user/{pk}/", {"first_name": "me"})
        assert sock.recv() == {
            "stream": "own-row",
            "payload": {
                "action": "update",
                "model": "auth.user",
                "data": {"id": pk, "username": name, "first_name": "me", "last_name": ""},
            },
        }
        assert_nothing_more(sock)
    finally:
        sock.close()
