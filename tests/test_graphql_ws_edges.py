"""graphql-transport-ws behaviours the documentation gives, each pinned: what ``info.context`` holds,
how a ChangesField types nested, choice, date and time fields, and 4500 on a server fault.
"""

import json

from support.client import assert_nothing_more, new_login, post, unique
from support.graphql_ws_client import WsSocket, served

TYPES = """{ __type(name: "ArticleDetailSubscriptionData") {
  fields { name type { kind name ofType { kind name } fields { name type { name } } } } } }"""


def test_info_context_has_the_socket_s_user_session_scope_params_headers_and_cookies(server):
    name, _, session, cookie = new_login(server, "context")
    sock = WsSocket(server, cookie=cookie, payload={"hello": "there"}, header=["X-Client: edges"])
    try:
        seen = json.loads(sock.execute("c", "{ contextSeen }")["contextSeen"])
        assert seen == {
            "user": name,
            "session": session.cookies["sessionid"],
            "scope": {"type": "websocket", "path": "/graphql/"},
            "connection_params": {"hello": "there"},
            "META": {"HTTP_COOKIE": cookie, "HTTP_X_CLIENT": "edges", "REMOTE_ADDR": "127.0.0.1"},
            "COOKIES": {"sessionid": session.cookies["sessionid"]},
        }
    finally:
        sock.close()


def test_changes_field_types_nested_choice_date_and_time_fields(server):
    sock = WsSocket(server)
    try:
        fields = {field["name"]: field["type"] for field in sock.execute("t", TYPES)["__type"]["fields"]}
        scalar = {name: kind["name"] or kind["ofType"]["name"] for name, kind in fields.items()}
        assert scalar == {
            "id": "Int",
            "title": "String",
            "author": "ArticleDetailSubscriptionDataAuthor",
            "status": "String",
            "published": "DateTime",
            "publishedOn": "Date",
            "at": "Time",
        }
        assert fields["author"]["fields"] == [
            {"name": "id", "type": {"name": "Int"}},
            {"name": "username", "type": {"name": "String"}},
        ]
        author_name = unique("author")
        author = post(server, "/testing/user/", {"username": author_name})["id"]
        sock.follow("e", "subscription { articleDetailChanges(action: CREATE) { data "
                         "{ id title author { id username } status published publishedOn at } } }")  # fmt: skip
        made = post(server, "/testing/changes/", {"steps": [{"create": "article", "as": "A", "set": {
            "title": "typed", "author_id": author, "status": "live", "published": "2026-01-02T03:04:05Z",
            "published_on": "2026-01-02", "at": "03:04:05"}}]})["ids"]["A"]  # fmt: skip
        assert sock.recv() == {
            "id": "e",
            "type": "next",
            "payload": {
                "data": {
                    "articleDetailChanges": {
                        "data": {
                            "id": made,
                            "title": "typed",
                            "author": {"id": author, "username": author_name},
                            "status": "live",
                            # As DRF shows it: in TIME_ZONE (Django's default, America/Chicago, here).
                            "published": "2026-01-01T21:04:05-06:00",
                            "publishedOn": "2026-01-02",
                            "at": "03:04:05",
                        }
                    }
                }
            },
        }
        assert_nothing_more(sock)
    finally:
        sock.close()


def test_a_server_fault_on_a_message_closes_that_socket_with_4500_and_serves_the_others(server):
    logged = len(server.log())
    faulty = WsSocket(server, path="/graphql-faulty/", init=False)
    try:
        faulty.send({"type": "connection_init"})
        assert faulty.recv_close() == 4500
    finally:
        faulty.close()
    log = server.log()[logged:]
    assert "A graphql-transport-ws message could not be served; the socket is closed." in log
    assert "RuntimeError: a deliberate fault in authenticate" in log
    served(server)
