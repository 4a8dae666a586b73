"""Who hears of what: ``Meta.queryset`` scopes the objects, ``permission_classes`` the sockets.

The staff stream's queryset is ``User.objects.filter(is_staff=True)``; the
guarded stream lets only logged-in users subscribe.
"""

from support.client import (
    Socket,
    as_admin,
    assert_nothing_more,
    at_once,
    create_group,
    delete_user,
    graphql,
    login,
    new_login,
    post,
    subscribe,
    subscription_request,
    unique,
)


def new_user(server, username, **attributes):
    return post(server, "/testing/user/", dict(attributes, username=username))["id"]


def change_user(server, pk, **attributes):
    post(server, f"/testing/user/{pk}/", attributes)


def staff_frame(action, pk, username, cause=None):
    payload = {"action": action, "model": "auth.user", "data": {"id": pk, "username": username}}
    if cause is not None:  # it entered or left the scope
        payload["cause"] = cause
    return {"stream": "staff", "payload": payload}


def test_deleting_an_object_in_scope_notifies_and_one_out_of_scope_does_not(server, socket):
    subscribe(server, socket, field="staffSubscription", action="DELETE", data=["ID", "USERNAME"])
    outsider = new_user(server, unique("out"))
    name = unique("staff")
    staff = new_user(server, name, is_staff=True)
    delete_user(server, outsider)
    delete_user(server, staff)
    assert socket.recv() == staff_frame("delete", staff, name)
    assert_nothing_more(socket)


def test_an_object_that_enters_the_scope_is_created_for_the_stream(server, socket):
    name = unique("joining")
    pk = new_user(server, name)
    updates = Socket(server)
    try:
        subscribe(server, socket, field="staffSubscription", action="CREATE", data=["ID", "USERNAME"])
        subscribe(server, updates, field="staffSubscription", action="UPDATE", data=["ID", "USERNAME"])
        change_user(server, pk, is_staff=True)
        assert socket.recv() == staff_frame("create", pk, name, cause="entered")
        # Not an update of an object the stream had shown: its update subscribers hear nothing.
        assert_nothing_more(socket, updates)
    finally:
        updates.close()


def test_an_object_that_leaves_the_scope_is_deleted_for_the_stream_as_it_last_was_in_it(server, socket):
    # The stream reports the objects of its queryset, and the new state of one that left
    # it is not the stream's to show (a queryset that hides drafts must not send the
    # draft): the delete shows it as it was while in the scope.
    name = unique("leaving")
    leaving = new_user(server, name, is_staff=True)
    staying_name = unique("staying")
    staying = new_user(server, staying_name, is_staff=True)
    by_id, deletes = Socket(server), Socket(server)
    try:
        subscribe(server, socket, field="staffSubscription", action="UPDATE", data=["ID", "USERNAME"])
        subscribe(server, by_id, field="staffSubscription", action="UPDATE", id=leaving, data=["ID"])
        subscribe(server, deletes, field="staffSubscription", action="DELETE", data=["ID", "USERNAME"])
        change_user(server, leaving, is_staff=False, username=unique("renamed"))
        change_user(server, leaving, first_name="outside now")
        change_user(server, staying, first_name="still staff")
        assert deletes.recv() == staff_frame("delete", leaving, name, cause="left")
        # The next frame is the staying object's update: no update came for the one that left.
        assert socket.recv() == staff_frame("update", staying, staying_name)
        assert_nothing_more(socket, by_id, deletes)
    finally:
        by_id.close()
        deletes.close()


def guarded_request(request_id):
    return {
        "stream": "guarded",
        "payload": {"action": "subscribe", "data": {"action": "create"}, "request_id": request_id},
    }


def guarded_reply(request_id, status=200, errors=()):
    return {
        "stream": "guarded",
        "payload": {
            "action": "subscribe",
            "data": {"action": "create"} if status == 200 else None,
            "errors": list(errors),
            "response_status": status,
            "request_id": request_id,
        },
    }


def test_a_logged_in_socket_may_subscribe_where_an_anonymous_one_may_not(server, socket):
    session, cookie = login(server, unique("member"))
    member = Socket(server, cookie=cookie)
    try:
        member.send(guarded_request("m"))
        assert member.recv() == guarded_reply("m")
        socket.send(guarded_request("a"))
        assert socket.recv() == guarded_reply(
            "a", 403, ["Permission denied: log in to subscribe to create on stream 'guarded'."]
        )
        hear_a_new_guarded_group(server, member, quiet=socket)
    finally:
        member.close()


def test_over_http_the_permission_is_asked_of_the_user_who_opened_the_socket(server, socket):
    reply = graphql(server, subscription_request("guardedSubscription", socket.channel_id, action="CREATE"))
    assert reply["data"]["guardedSubscription"] == {
        "ok": False,
        "error": "Permission denied: log in to subscribe to create on stream 'guarded'.",
        "stream": "guarded",
        "operation": "SUBSCRIBE",
        "action": "CREATE",
    }
    session, cookie = login(server, unique("member"))
    member = Socket(server, cookie=cookie)
    try:
        request = subscription_request("guardedSubscription", member.channel_id, action="CREATE")
        assert graphql(server, request, session=session)["data"]["guardedSubscription"]["ok"] is True
        assert member.recv() == {
            "action": "create",
            "operation": "subscribe",
            "ok": True,
            "stream": "guarded",
            "error": None,
        }
        hear_a_new_guarded_group(server, member, quiet=socket)
    finally:
        member.close()


def hear_a_new_guarded_group(server, member, quiet):
    """Create a group: ``member`` hears of it on the guarded stream, ``quiet`` hears nothing."""
    name = unique("g")
    gid = create_group(server, name)
    assert member.recv() == {
        "stream": "guarded",
        "payload": {"action": "create", "model": "auth.group", "data": {"id": gid, "name": name}},
    }
    assert_nothing_more(member, quiet)


def test_the_documented_team_rule_tells_each_group_change_to_its_members_alone(server):
    # docs/subscriptions.rst shows TeamSubscription: get_queryset(user) keeps the user's own groups.
    team = unique("team")
    pk = create_group(server, team)
    logins = [new_login(server, "member", groups=[team]), new_login(server, "member", groups=[team])]
    logins.append(new_login(server, "outsider"))
    sockets = [Socket(server, cookie=cookie) for _, _, _, cookie in logins]
    try:
        at_once(
            len(sockets),
            lambda n: subscribe(
                server, sockets[n], field="teamSubscription", session=logins[n][2], data=["NAME"]
            ),
        )
        renamed = unique("team")
        reply = graphql(
            server,
            'mutation { updateGroup(newGroup: {id: %d, name: "%s"}) { ok } }' % (pk, renamed),
            **as_admin(server),
        )
        assert reply["data"]["updateGroup"]["ok"], reply
        frame = {
            "stream": "teams",
            "payload": {"action": "update", "model": "auth.group", "data": {"name": renamed}},
        }
        assert [sock.recv() for sock in sockets[:2]] == [frame, frame]
        assert_nothing_more(*sockets)  # the outsider heard nothing
    finally:
        for sock in sockets:
            sock.close()
