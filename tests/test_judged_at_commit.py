"""What is sent, and to whom, is decided from the change as it was made, never from rows read later.

Each test runs its saves back to back in one request to ``/testing/changes/``;
with ``hold`` the server's outbox stays busy until the last one is committed, as
on a loaded server, so every change is delivered after all of them. A decision
taken at delivery would then read the last state, not the change's own. Each
test follows the changes on several sockets at once, on the 2018 protocol and,
on the modern engine, on graphql-transport-ws too.
"""

from concurrent.futures import ThreadPoolExecutor

from support.client import Socket, assert_nothing_more, post, subscribe, unique
from support.servers import LEGACY

SOCKETS = 3


def run_changes(server, steps, hold=True, atomic=False):
    """Run ``steps`` back to back on the server (see testproject.views.changes); the ids it made."""
    return post(server, "/testing/changes/", {"steps": steps, "hold": hold, "atomic": atomic})["ids"]


def new_user(server, **attributes):
    return post(server, "/testing/user/", dict(attributes, username=unique("w")))["id"]


class Followers:
    """``SOCKETS`` 2018 sockets, and on the modern engine as many graphql-transport-ws ones, on one stream.

    ``changes_query`` is the standard subscription, with ``%s`` where its arguments go.
    """

    def __init__(self, server, field, changes_query, action="ALL_ACTIONS", data=None):
        self.sockets = [Socket(server) for _ in range(SOCKETS)]
        with ThreadPoolExecutor(SOCKETS) as pool:  # they subscribe at the same moment
            list(pool.map(lambda sock: subscribe(server, sock, field=field, action=action, data=data),
                          self.sockets))  # fmt: skip
        self.standard = []
        if not LEGACY:
            from support.graphql_ws_client import WsSocket

            query = changes_query % ("" if action == "ALL_ACTIONS" else f"(action: {action})")
            self.standard = [WsSocket(server) for _ in range(SOCKETS)]
            with ThreadPoolExecutor(SOCKETS) as pool:
                list(pool.map(lambda sock: sock.follow("1", query), self.standard))

    def frames(self, count):
        """The next ``count`` frames of every 2018 socket: one list, the same on each."""
        received = [[sock.recv() for _ in range(count)] for sock in self.sockets]
        assert all(frames == received[0] for frames in received), received
        return received[0]

    def events(self, count):
        """The next ``count`` events of every standard socket (their ``next`` payloads' data), the same on each."""
        received = [[sock.recv() for _ in range(count)] for sock in self.standard]
        assert all(messages == received[0] for messages in received), received
        return [message["payload"]["data"] for message in received[0]]

    def assert_nothing_more(self):
        assert_nothing_more(*self.sockets, *self.standard)

    def close(self):
        for sock in self.sockets + self.standard:
            sock.close()


def article_frame(stream, action, pk, title, author, cause=None):
    """An article's 2018 frame; one that entered or left the stream's scope says so (``cause``)."""
    payload = {
        "action": action,
        "model": "testproject.article",
        "data": {"id": pk, "title": title, "author": author},
    }
    if cause is not None:
        payload["cause"] = cause
    return {"stream": stream, "payload": payload}


def article_event(field, stream, action, pk, title, author):
    return {
        field: {
            "stream": stream,
            "action": action.upper(),
            "model": "testproject.article",
            "data": {"id": pk, "title": title, "author": author},
        }
    }


STAFF_ARTICLES = "subscription { staffArticleChanges%s { stream action model data { id title author } } }"
ARTICLES = "subscription { articleChanges%s { stream action model data { id title author } } }"


def test_a_scope_is_judged_on_each_change_as_it_was_made(server):
    # The case: A is created for a staff author, B for another; then B moves
    # to the staff author and A away. The staff stream heard B's creation (with the
    # other author's id) and never A's when the scope was read at delivery. Now B enters
    # the scope (a create for the stream) and A leaves it (a delete, shown as it last was
    # in the scope), each as it committed.
    staff, other = new_user(server, is_staff=True), new_user(server)
    followers = Followers(server, "staffArticleSubscription", STAFF_ARTICLES)
    try:
        ids = run_changes(
            server,
            [
                {"create": "article", "as": "A", "set": {"title": "a", "author_id": staff}},
                {"create": "article", "as": "B", "set": {"title": "b", "author_id": other}},
                {"update": "B", "set": {"author_id": staff}},
                {"update": "A", "set": {"author_id": other}},
            ],
        )
        a, b = ids["A"], ids["B"]
        assert followers.frames(3) == [
            article_frame("staff-articles", "create", a, "a", staff),
            article_frame("staff-articles", "create", b, "b", staff, cause="entered"),
            article_frame("staff-articles", "delete", a, "a", staff, cause="left"),
        ]
        if followers.standard:
            assert followers.events(3) == [
                article_event("staffArticleChanges", "staff-articles", "create", a, "a", staff),
                article_event("staffArticleChanges", "staff-articles", "create", b, "b", staff),
                article_event("staffArticleChanges", "staff-articles", "delete", a, "a", staff),
            ]
        followers.assert_nothing_more()
    finally:
        followers.close()


def test_a_per_recipient_rule_is_judged_on_each_change_as_it_was_made(server):
    # The users stream's rule shows active users only. A name saved while the user was
    # hidden must never be sent, even when the user is shown a moment later; the change
    # that shows them is a create for the stream (cause entered), the one that hides them
    # a delete (cause left) showing them as they last were while shown.
    name = unique("hidden")
    hidden = post(server, "/testing/user/", {"username": name, "is_active": False})["id"]
    query = "subscription { userChanges%s { stream action cause model data { id username firstName } } }"
    followers = Followers(server, "userSubscription", query, data=["ID", "USERNAME", "FIRST_NAME"])
    try:
        run_changes(
            server,
            [
                {"load": "user", "pk": hidden, "as": "U"},
                {"update": "U", "set": {"first_name": "LEAKED-WHILE-HIDDEN"}},
                {"update": "U", "set": {"first_name": "Public", "is_active": True}},
                {"update": "U", "set": {"first_name": "Seen"}},
                {"update": "U", "set": {"first_name": "LEAKED-AS-HIDDEN", "is_active": False}},
                {"update": "U", "set": {"first_name": "LEAKED-AGAIN"}},
            ],
        )
        heard = [("create", "entered", "Public"), ("update", None, "Seen"), ("delete", "left", "Seen")]
        frames = []
        for action, cause, first_name in heard:
            payload = {"action": action, "model": "auth.user"}
            payload["data"] = {"id": hidden, "username": name, "first_name": first_name}
            if cause is not None:
                payload["cause"] = cause
            frames.append({"stream": "users", "payload": payload})
        assert followers.frames(3) == frames
        if followers.standard:
            assert followers.events(3) == [
                {
                    "userChanges": {
                        "stream": "users",
                        "action": action.upper(),
                        "cause": (cause or action + "d").upper(),
                        "model": "auth.user",
                        "data": {"id": hidden, "username": name, "firstName": first_name},
                    }
                }
                for action, cause, first_name in heard
            ]
        followers.assert_nothing_more()
    finally:
        followers.close()


def test_an_object_created_and_deleted_in_one_transaction_is_heard_created_then_deleted(server):
    followers = Followers(server, "articleSubscription", ARTICLES)
    author = new_user(server)
    try:
        ids = run_changes(
            server,
            [
                {"create": "article", "as": "A", "set": {"title": "brief", "author_id": author}},
                {"update": "A", "set": {"title": "briefer"}},
                {"delete": "A"},
            ],
            atomic=True,
        )
        a = ids["A"]
        assert followers.frames(3) == [
            article_frame("articles", "create", a, "brief", author),
            article_frame("articles", "update", a, "briefer", author),
            article_frame("articles", "delete", a, "briefer", author),
        ]
        if followers.standard:
            assert followers.events(3) == [
                article_event("articleChanges", "articles", "create", a, "brief", author),
                article_event("articleChanges", "articles", "update", a, "briefer", author),
                article_event("articleChanges", "articles", "delete", a, "briefer", author),
            ]
        followers.assert_nothing_more()
    finally:
        followers.close()


def test_each_save_in_one_transaction_sends_its_own_notification_in_order(server):
    followers = Followers(server, "articleSubscription", ARTICLES, action="UPDATE")
    author = new_user(server)
    article = run_changes(
        server, [{"create": "article", "as": "A", "set": {"title": "draft", "author_id": author}}], hold=False
    )["A"]
    try:
        run_changes(
            server,
            [{"load": "article", "pk": article, "as": "A"}]
            + [{"update": "A", "set": {"title": title}} for title in ("one", "two", "three")],
            atomic=True,
            hold=False,
        )
        assert followers.frames(3) == [
            article_frame("articles", "update", article, title, author) for title in ("one", "two", "three")
        ]
        if followers.standard:
            assert followers.events(3) == [
                article_event("articleChanges", "articles", "update", article, title, author)
                for title in ("one", "two", "three")
            ]
        followers.assert_nothing_more()
    finally:
        followers.close()


def test_data_is_sent_as_stored_whatever_the_saving_code_held(server):
    # A form or a mutation leaves a foreign key as the text it received ("2"); a shell
    # save as a number. Both are stored as the same number, and sent as stored.
    author = new_user(server)
    followers = Followers(server, "articleSubscription", ARTICLES, action="CREATE")
    try:
        ids = run_changes(
            server,
            [
                {"create": "article", "as": "text", "set": {"title": "t", "author_id": str(author)}},
                {"create": "article", "as": "number", "set": {"title": "n", "author_id": author}},
            ],
            hold=False,
        )
        assert followers.frames(2) == [
            article_frame("articles", "create", ids["text"], "t", author),
            article_frame("articles", "create", ids["number"], "n", author),
        ]
        if followers.standard:
            assert followers.events(2) == [
                article_event("articleChanges", "articles", "create", ids["text"], "t", author),
                article_event("articleChanges", "articles", "create", ids["number"], "n", author),
            ]
        followers.assert_nothing_more()
    finally:
        followers.close()
