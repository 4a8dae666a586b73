"""Documented behaviours at the edges, each pinned so that a one-line break of it fails here.

A per-recipient stream stops delivering to a user deactivated without a signal;
the package's view refuses a cookie-carrying mutation without the CSRF token;
the outbox drops what passes ``MAX_PENDING_CHANGES`` and says so; a live socket
whose row was forgotten is closed with 4410 (modern engine: leases); without
a channel layer, both consumers refuse their sockets and the log says why.
"""

import json

import pytest
import websocket

from support.client import (
    QUIET,
    TIMEOUT,
    Socket,
    assert_nothing_more,
    create_group,
    graphql,
    new_login,
    post,
    subscribe,
    subscription_request,
    unique,
    wait_for,
)
from support.servers import LEGACY, Server


def owned_frame(group_id, name, viewer):
    return {
        "stream": "owned",
        "payload": {
            "action": "create",
            "model": "auth.group",
            "data": {"id": group_id, "name": name, "viewer": viewer},
        },
    }


def test_a_per_recipient_stream_stops_delivering_to_a_user_deactivated_without_a_signal(server):
    users = [new_login(server) for _ in range(3)]
    sockets = [Socket(server, cookie=cookie) for _, _, _, cookie in users]
    try:
        for sock, (_, _, session, _) in zip(sockets, users):
            subscribe(server, sock, field="ownedSubscription", action="CREATE", session=session)
        quiet_name, quiet_pk, _, _ = users[0]
        post(server, f"/testing/user/{quiet_pk}/deactivate-quietly/", {})
        made = {name: create_group(server, f"{name}-team") for name, _, _, _ in users}
        # The two active users hear of their own group; the deactivated one hears nothing.
        for sock, (name, _, _, _) in list(zip(sockets, users))[1:]:
            assert sock.recv() == owned_frame(made[name], f"{name}-team", name)
        # A marker would be refused to the inactive user: a quiet window instead.
        assert_nothing_more(*sockets, quiet=QUIET)
    finally:
        for sock in sockets:
            sock.close()


def test_the_package_view_refuses_a_cookie_carrying_mutation_without_the_csrf_token(server):
    # A page of another site could make a logged-in browser POST it: nothing may change.
    _, _, session, _ = new_login(server, permissions=["auth.add_group"])
    name = unique("forged")
    mutation = "mutation { createGroup(newGroup: {name: %s}) { ok } }" % json.dumps(name)
    response = session.post(f"{server.http}/graphql/", json={"query": mutation}, timeout=TIMEOUT)
    assert response.status_code == 403
    assert response.json() == {
        "errors": [
            {
                "message": "CSRF check failed: a request that carries the session cookie must send Django's "
                "CSRF token in the X-CSRFToken header (read it from the csrftoken cookie)."
            }
        ]
    }
    names = [group["name"] for group in graphql(server, "{ groups { name } }")["data"]["groups"]]
    assert name not in names
    # With the token, the same session's mutation runs.
    assert graphql(server, mutation, session=session) == {"data": {"createGroup": {"ok": True}}}


@pytest.fixture(scope="module")
def small_outbox(limited_server):
    return limited_server("small-outbox", MAX_PENDING_CHANGES=2)


def test_changes_beyond_max_pending_changes_are_logged_and_later_ones_flow(small_outbox):
    """Legacy engine: the changes beyond are dropped. Modern: servers read them from the change log all the same."""
    server = small_outbox
    sockets = [Socket(server) for _ in range(3)]
    try:
        for sock in sockets:
            subscribe(server, sock, field="groupSubscription", action="CREATE", data=["NAME"])
        names = [unique("queued") for _ in range(5)]
        # The outbox is busy while all five are saved: two wait, three are dropped.
        post(server, "/testing/changes/", {"hold": True, "steps": [
            {"create": "group", "as": name, "set": {"name": name}} for name in names
        ]})  # fmt: skip
        later = unique("later")
        create_group(server, later)
        heard = (names[0], names[1], later) if LEGACY else (*names, later)
        expected = [{"stream": "groups", "payload": {"action": "create", "model": "auth.group", "data": {"name": n}}}
                    for n in heard]  # fmt: skip
        for sock in sockets:
            assert [sock.recv() for _ in expected] == expected
        assert_nothing_more(*sockets)
        log = wait_for(lambda: "takes notifications again" in server.log() and server.log())
        assert log.count("2 changes wait in the outbox; new ones are dropped") == 1
        if LEGACY:
            assert "about 3 change(s) reached no subscriber meanwhile" in log
        else:
            assert "servers read them from the change log meanwhile, within 1.0 s" in log
    finally:
        for sock in sockets:
            sock.close()


if not LEGACY:
    LEASE = 3

    @pytest.fixture(scope="module")
    def short_lease(limited_server):
        return limited_server("short-lease", SOCKET_LEASE_SECONDS=LEASE)

    def test_a_live_socket_whose_row_was_forgotten_is_closed_with_4410(short_lease):
        server = short_lease
        forgotten, kept = Socket(server), Socket(server)
        try:
            for sock in (forgotten, kept):
                subscribe(server, sock, field="groupSubscription", action="CREATE", data=["NAME"])
            assert post(server, "/testing/forget-socket/", {"channel_id": forgotten.channel_id}) == {
                "deleted": 1
            }
            assert forgotten.recv_close(timeout=LEASE * 2) == 4410
            reply = graphql(
                server, subscription_request("groupSubscription", forgotten.channel_id, action="CREATE")
            )
            assert reply["data"]["groupSubscription"]["error"] == (
                "That socket is no longer connected: reconnect and use the channel_id of the new connection."
            )
            name = unique("g")
            create_group(server, name)
            assert kept.recv() == {
                "stream": "groups",
                "payload": {"action": "create", "model": "auth.group", "data": {"name": name}},
            }
            assert_nothing_more(kept)
        finally:
            forgotten.close()
            kept.close()


if not LEGACY:  # Channels 1's runserver does not start without a channel layer.

    def test_without_a_channel_layer_both_consumers_refuse_their_sockets_and_say_why(workdir, project):
        env = project("no-layer")
        env["DJANGO_SETTINGS_MODULE"] = "testproject.settings_nolayer"
        server = Server(env, workdir / "no-layer.log")
        try:
            refusals = []
            for path, subprotocols in (("/subscriptions/", None), ("/graphql/", ["graphql-transport-ws"])):
                with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                    websocket.create_connection(
                        f"ws://127.0.0.1:{server.port}{path}", timeout=TIMEOUT, subprotocols=subprotocols
                    )
                refusals.append(refused.value.status_code)
            assert refusals == [403, 403]
            for consumer in ("GraphqlAPIDemultiplexer", "GraphqlWsConsumer"):
                assert f"{consumer} needs a channel layer: set CHANNEL_LAYERS in settings." in server.log()
            # The rest of the site serves on.
            assert graphql(server, "{ users { id } }")["data"]["users"] is not None
        finally:
            server.stop()
