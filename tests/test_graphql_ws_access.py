"""A graphql-transport-ws socket acts as its user is now, not as they were at ``connection_init``.

Queries, mutations and subscriptions each read the user afresh: a demotion
holds from the next operation on, and a user deactivated without a signal
(``queryset.update()``) has their socket closed (4401) at its next operation.
A socket a token opened ends with that token, not with a session it came
with. Several sockets of the same user are checked at once.
"""

from concurrent.futures import ThreadPoolExecutor

from support.client import new_login, post, token_for, unique
from support.graphql_ws_client import WsSocket

CLOSE_ACCESS_ENDED = 4401
SOCKETS = 3
EMAILS = "query { users { id email } }"


def emails_seen(sock, id, pks):
    """The email addresses of users ``pks`` that a query over ``sock`` shows."""
    users = {int(user["id"]): user["email"] for user in sock.execute(id, EMAILS)["users"]}
    return [users[pk] for pk in pks]


def on_every(sockets, function):
    with ThreadPoolExecutor(len(sockets)) as pool:
        return list(pool.map(function, sockets))


def test_a_demoted_user_s_open_sockets_read_as_the_demoted_user(server):
    others = [post(server, "/testing/user/", {"username": unique("o"), "email": f"{unique()}@example.com"})["id"]
              for _ in range(2)]  # fmt: skip
    _, pk, _, cookie = new_login(server)
    post(server, f"/testing/user/{pk}/", {"is_staff": True})
    sockets = [WsSocket(server, cookie=cookie) for _ in range(SOCKETS)]
    try:
        before = on_every(sockets, lambda sock: emails_seen(sock, "before", others))
        assert all(all(email.endswith("@example.com") for email in seen) for seen in before), before
        post(server, f"/testing/user/{pk}/", {"is_staff": False})  # a save: the sockets stay open
        after = on_every(sockets, lambda sock: emails_seen(sock, "after", others))
        assert after == [["", ""]] * SOCKETS
    finally:
        for sock in sockets:
            sock.close()


def test_a_user_deactivated_without_signals_has_their_sockets_closed_at_their_next_operation(server):
    _, pk, _, cookie = new_login(server)
    sockets = [WsSocket(server, cookie=cookie) for _ in range(SOCKETS)]
    bystander = WsSocket(server)
    try:
        on_every(sockets, lambda sock: emails_seen(sock, "before", [pk]))
        post(server, f"/testing/user/{pk}/deactivate-quietly/", {})
        for sock in sockets:
            sock.subscribe("after", EMAILS)
        assert on_every(sockets, lambda sock: sock.recv_close()) == [CLOSE_ACCESS_ENDED] * SOCKETS
        # Everybody else is served as before (the inactive user is no longer listed at all).
        other = post(server, "/testing/user/", {"username": unique("other"), "email": "o@example.com"})["id"]
        assert emails_seen(bystander, "still", [other]) == [""]
        assert pk not in {int(user["id"]) for user in bystander.execute("users", EMAILS)["users"]}
    finally:
        for sock in sockets + [bystander]:
            sock.close()


def test_a_token_socket_acts_as_the_token_s_user_and_ends_with_the_token_not_the_session(server):
    alice, key = token_for(server, unique("alice"))
    _, bob, bob_session, cookie = new_login(server)
    for pk in (alice, bob):
        post(server, f"/testing/user/{pk}/", {"email": f"{pk}@example.com"})
    # Alice's token over Bob's cookie, as a shared device might send them.
    sockets = [WsSocket(server, path="/graphql-token/", payload={"token": key}, cookie=cookie)
               for _ in range(SOCKETS)]  # fmt: skip
    try:
        seen = on_every(sockets, lambda sock: emails_seen(sock, "who", [alice, bob]))
        assert seen == [[f"{alice}@example.com", ""]] * SOCKETS
        # Bob's session ends: not what authenticated these sockets.
        post(server, "/testing/logout/", {}, session=bob_session)
        for sock in sockets:
            sock.send({"type": "ping", "payload": {"still": "open"}})
        assert (
            on_every(sockets, lambda sock: sock.recv())
            == [{"type": "pong", "payload": {"still": "open"}}] * SOCKETS
        )
        # Alice's token is deleted: every socket it opened closes.
        post(server, "/testing/token/delete/", {"key": key})
        assert on_every(sockets, lambda sock: sock.recv_close()) == [CLOSE_ACCESS_ENDED] * SOCKETS
    finally:
        for sock in sockets:
            sock.close()


def test_a_valid_token_of_an_inactive_user_is_forbidden(server):
    pk, key = token_for(server, unique("inactive"))
    post(server, f"/testing/user/{pk}/", {"is_active": False})
    sock = WsSocket(server, path="/graphql-token/", init=False)
    try:
        sock.send({"type": "connection_init", "payload": {"token": key}})
        assert sock.recv_close() == 4403
    finally:
        sock.close()
