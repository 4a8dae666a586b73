"""What a real client does: a WebSocket, and GraphQL requests over HTTP."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
import websocket

TIMEOUT = 10
#: Seconds a socket must stay silent before "nothing more arrived" is believed.
QUIET = 1.0


class Socket:
    """A client WebSocket that reads JSON frames."""

    def __init__(self, server, cookie=None, origin=None, path=None):
        self.server = server
        # ``cookie`` ("sessionid=...") opens the socket as that session's user. The
        # Origin header is the server's own (as from its page) unless ``origin`` says otherwise.
        url = server.ws if path is None else f"ws://127.0.0.1:{server.port}{path}"
        self.conn = websocket.create_connection(url, timeout=TIMEOUT, cookie=cookie, origin=origin)
        self.hello = self.recv()

    @property
    def channel_id(self):
        return self.hello["channel_id"]

    def recv(self, timeout=TIMEOUT):
        """The next frame, decoded; fails the test when none comes in time, or the server closes instead."""
        self.conn.settimeout(timeout)
        opcode, data = self.conn.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            raise AssertionError(f"the server closed the socket (code {code}) instead of sending a frame")
        return json.loads(data)

    def drain(self, quiet=QUIET):
        """Every frame that arrives until the socket stays silent for ``quiet`` seconds.

        "Nothing was sent" is ``sock.drain() == []``: unlike one ``recv()``, it
        also sees a frame that would have come after the expected ones.
        """
        frames = []
        while True:
            self.conn.settimeout(quiet)
            try:
                text = self.conn.recv()
            except websocket.WebSocketTimeoutException:
                return frames
            frames.append(json.loads(text))

    def recv_close(self, timeout=TIMEOUT):
        """Wait for the server to close the socket; return its close code.

        Fails when a text frame comes first: a closed socket hears nothing more.
        Reads the raw frame: the server may drop the connection right after its
        close frame, before a reply could be written.
        """
        return self.recv_close_with_reason(timeout)[0]

    def recv_close_with_reason(self, timeout=TIMEOUT):
        """Wait for the server to close the socket (as ``recv_close``); return its code and reason."""
        self.conn.settimeout(timeout)
        frame = self.conn.recv_frame()
        while frame.opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            frame = self.conn.recv_frame()
        assert frame.opcode == websocket.ABNF.OPCODE_CLOSE, (
            f"a frame came instead of the close: {frame.data!r}"
        )
        return int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode("utf-8")

    def send(self, frame):
        self.conn.send(frame if isinstance(frame, str) else json.dumps(frame))

    def close(self):
        self.conn.close()


def at_once(count, function):
    """``function(n)`` for n in 0..count-1, all at the same time; their results in order."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(function, range(count)))


def close_codes(sockets):
    """The close code each of ``sockets`` receives, read at once on all of them."""
    with ThreadPoolExecutor(max(1, len(sockets))) as pool:
        return list(pool.map(lambda sock: sock.recv_close(), sockets))


def assert_nothing_more(*sockets, quiet=None):
    """Fail when any of ``sockets`` has received a frame the test did not read.

    Proven by a marker, with no wait: each socket follows the test project's ``markers``
    stream, one marker is saved through its server, and each socket's next frames must be
    the answer to that subscribe, then the marker's notification. A server's outbox sends
    changes in commit order and a socket's frames arrive in order, so a frame sent before
    the marker comes first and fails the test. The sockets then stop following markers.
    Tests that run at once on one server may see each other's markers, and nothing else.

    ``quiet`` (seconds) instead waits for that much silence: for what a marker cannot
    prove (a save in another process, a server of another project, a socket that may no
    longer subscribe).
    """
    if quiet is not None:
        _assert_quiet(sockets, quiet)
        return
    by_server = {}
    for sock in sockets:
        by_server.setdefault(sock.server, []).append(sock)
    for server, group in by_server.items():
        label = unique("marker")
        markers = [_follow_markers(sock) for sock in group]
        post(server, "/testing/marker/", {"label": label})
        for marker in markers:
            marker.read_until(marker.event(label))
        for marker in markers:
            marker.stop()


def _assert_quiet(sockets, quiet):
    extra = {}
    for index, sock in enumerate(sockets):
        # The first socket's wait covers the others: what was sent to them has arrived.
        frames = sock.drain(quiet if index == 0 else min(quiet, 0.05))
        if frames:
            extra[index] = frames
    assert not extra, f"unexpected frames (socket index: frames): {extra}"


def _follow_markers(sock):
    """Make ``sock`` follow new markers (either protocol); its ``Marker``."""
    marker = StandardMarker(sock) if hasattr(sock, "follow") else Marker2018(sock)
    marker.start()
    return marker


def _dig(value, *keys):
    """``value[key][key]...``, or None where a level is not a dict or lacks the key."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


class _Marker:
    def read_until(self, expected, what="the marker"):
        """Read the socket until ``expected``; fail on any frame but other markers' events."""
        frame = self.sock.recv()
        while frame != expected:
            assert self.is_event(frame), f"a frame came before {what}: {frame}"
            frame = self.sock.recv()


class Marker2018(_Marker):
    """A 2018 socket's subscription to new markers, made and ended by socket frames."""

    def __init__(self, sock):
        self.sock = sock
        self.request_id = unique("marker")

    def _request(self, action):
        data = {"action": "create", "fields": ["label"]}
        payload = {"action": action, "data": data, "request_id": self.request_id}
        self.sock.send({"stream": "markers", "payload": payload})
        answer = {
            "stream": "markers",
            "payload": {
                "action": action,
                "data": {"action": "create"},
                "errors": [],
                "response_status": 200,
                "request_id": self.request_id,
            },
        }
        self.read_until(answer, f"the answer to the marker {action}")

    def start(self):
        self._request("subscribe")

    def event(self, label):
        payload = {"action": "create", "model": "testproject.marker", "data": {"label": label}}
        return {"stream": "markers", "payload": payload}

    def is_event(self, frame):
        return frame == self.event(_dig(frame, "payload", "data", "label"))

    def stop(self):
        self._request("unsubscribe")


class StandardMarker(_Marker):
    """A graphql-transport-ws socket's operation that follows new markers."""

    def __init__(self, sock):
        self.sock = sock
        self.id = unique("marker")

    def start(self):
        # As ``follow``, but other tests' markers may come before the pong once the subscribe is served.
        self.sock.subscribe(self.id, "subscription { markerChanges(action: CREATE) { data { label } } }")
        self.sock.send({"type": "ping", "payload": {"following": self.id}})
        self.read_until({"type": "pong", "payload": {"following": self.id}}, "the pong after the subscribe")

    def event(self, label):
        data = {"markerChanges": {"data": {"label": label}}}
        return {"id": self.id, "type": "next", "payload": {"data": data}}

    def is_event(self, frame):
        return frame == self.event(_dig(frame, "payload", "data", "markerChanges", "data", "label"))

    def stop(self):
        self.sock.send({"id": self.id, "type": "complete"})
        # Served in order: once the pong is here, the operation is over.
        self.sock.send({"type": "ping", "payload": {"ended": self.id}})
        self.read_until({"type": "pong", "payload": {"ended": self.id}}, "the pong after the complete")


def still_served(server, socket):
    """The socket and a brand-new one both still get notifications."""
    other = Socket(server)
    try:
        for sock in (socket, other):
            subscribe(server, sock, field="groupSubscription", action="CREATE", data=["NAME"])
        # Nothing else: no second answer to a bad request, no half-made subscription. The
        # second group proves it without a quiet window: one outbox sends this server's
        # changes in commit order, so what the first one sent came before the second's.
        for name in (unique("g"), unique("g")):
            create_group(server, name)
            for sock in (socket, other):
                assert sock.recv() == {
                    "stream": "groups",
                    "payload": {"action": "create", "model": "auth.group", "data": {"name": name}},
                }
    finally:
        other.close()


def graphql(server, query, session=None, headers=None):
    """POST a GraphQL document; return the decoded reply.

    A ``session`` that holds a csrftoken cookie sends it back as X-CSRFToken, as the live page does.
    """
    headers = dict(headers or {})
    if session is not None and "csrftoken" in session.cookies:
        headers["X-CSRFToken"] = session.cookies["csrftoken"]
    response = (session or requests).post(
        f"{server.http}/graphql/", json={"query": query}, headers=headers, timeout=TIMEOUT
    )
    assert response.status_code in (200, 400), response.text
    return response.json()


def unique(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def subscription_request(
    field, channel_id, operation="SUBSCRIBE", action="UPDATE", id=None, data=None, filters=None
):
    """The GraphQL text of a subscribe or unsubscribe request (``filters``: ``{argument: value}``)."""
    args = [f"operation: {operation}", f"action: {action}", f"channelId: {json.dumps(channel_id)}"]
    if id is not None:
        args.append(f"id: {json.dumps(str(id))}")
    if data is not None:
        args.append(f"data: [{', '.join(data)}]")
    for name, value in (filters or {}).items():
        args.append(f"{name}: {json.dumps(value)}")
    return "subscription { %s(%s) { ok error stream operation action } }" % (field, ", ".join(args))


def subscribe(server, socket, field="userSubscription", session=None, **kwargs):
    """Subscribe over HTTP (as ``session``'s user) and wait for the socket's confirmation; return the HTTP reply."""
    reply = graphql(server, subscription_request(field, socket.channel_id, **kwargs), session=session)
    result = reply["data"][field]
    assert result["ok"], result
    confirmation = socket.recv()
    assert (
        confirmation["ok"] is True
        and confirmation["operation"] == kwargs.get("operation", "SUBSCRIBE").lower()
    ), confirmation
    return reply


#: How the tests' requests to the test project act as its superuser "admin" (made by its
#: migration 0002): a token (testproject.middleware), so no login, and no notification of its save.
ADMIN = {"Authorization": "Token admin"}


def as_admin(server):
    """What ``graphql`` needs to act as a superuser of ``server``: the example's mutations need one.

    The example project (no token middleware) has a logged-in ``admin_session`` (see ``password_login``).
    """
    session = getattr(server, "admin_session", None)
    return {"session": session} if session is not None else {"headers": ADMIN}


def password_login(server, username, password):
    """A ``requests.Session`` logged in through the example's login page, as a person would."""
    session = requests.Session()
    session.get(f"{server.http}/login/", timeout=TIMEOUT).raise_for_status()
    form = {"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    response = session.post(f"{server.http}/login/", data=form, timeout=TIMEOUT, allow_redirects=False)
    assert response.status_code == 302, response.text
    return session


def create_user(server, username, **extra):
    """Create a user through the example's GraphQL mutation, as a superuser; return its id (an int)."""
    fields = ", ".join(
        [f"username: {json.dumps(username)}", 'password: "pw"']
        + [f"{k}: {json.dumps(v)}" for k, v in extra.items()]
    )
    reply = graphql(
        server,
        "mutation { createUser(newUser: {%s}) { ok errors { field messages } user { id } } }" % fields,
        **as_admin(server),
    )
    assert reply["data"]["createUser"]["ok"], reply
    return int(reply["data"]["createUser"]["user"]["id"])


def update_user(server, pk, **changes):
    fields = ", ".join([f"id: {pk}"] + [f"{k}: {json.dumps(v)}" for k, v in changes.items()])
    reply = graphql(
        server,
        "mutation { updateUser(newUser: {%s}) { ok errors { field messages } } }" % fields,
        **as_admin(server),
    )
    assert reply["data"]["updateUser"]["ok"], reply


def delete_user(server, pk):
    reply = graphql(server, "mutation { deleteUser(id: %s) { ok } }" % pk, **as_admin(server))
    assert reply["data"]["deleteUser"]["ok"], reply


def create_group(server, name):
    reply = graphql(
        server,
        "mutation { createGroup(newGroup: {name: %s}) { ok errors { field messages } group { id } } }"
        % json.dumps(name),
        **as_admin(server),
    )
    assert reply["data"]["createGroup"]["ok"], reply
    return int(reply["data"]["createGroup"]["group"]["id"])


def rename_group(server, pk, name):
    """Rename group ``pk`` through the example's GraphQL mutation, as a superuser."""
    mutation = "mutation { updateGroup(newGroup: {id: %d, name: %s}) { ok } }" % (pk, json.dumps(name))
    reply = graphql(server, mutation, **as_admin(server))
    assert reply["data"]["updateGroup"]["ok"], reply


def post(server, path, body, session=None):
    response = (session or requests).post(f"{server.http}{path}", json=body, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def login(server, username):
    """Log in over HTTP; return the ``requests.Session`` and the cookie that opens a socket as that user.

    The session also holds the csrftoken cookie its GraphQL requests send back.
    """
    session = requests.Session()
    post(server, "/testing/login/", {"username": username}, session=session)
    return session, f"sessionid={session.cookies['sessionid']}"


def new_login(server, prefix="viewer", permissions=(), groups=()):
    """A new user, logged in over HTTP: their username, id, ``requests.Session`` and socket cookie.

    ``permissions`` are granted to them ("auth.change_user", ...); they join the named ``groups``.
    """
    session = requests.Session()
    name = unique(prefix)
    body = {"username": name, "permissions": list(permissions), "groups": list(groups)}
    pk = post(server, "/testing/login/", body, session=session)["id"]
    return name, pk, session, f"sessionid={session.cookies['sessionid']}"


def token_for(server, username):
    """A DRF token of the named user (made when missing): ``(user id, key)``."""
    made = post(server, "/testing/token/", {"username": username})
    return made["id"], made["key"]


def wait_for(predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
