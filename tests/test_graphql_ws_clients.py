"""Clients nobody here wrote, against a real server: ``graphql-ws`` from the npm registry, run by Node,
and the Python ``gql`` client, both over graphql-transport-ws.

Not collected on the legacy engine (see conftest.py).
"""

import asyncio
import json
import subprocess

from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from support.client import token_for, unique, wait_for
from support.graphql_ws_client import NOPE, operations_on
from support.servers import ROOT

CHANGES = gql("subscription { groupChanges { action model data { id name } } }")


def admin_token(server):
    """The token of the test project's superuser: the example's mutations need their permission."""
    return token_for(server, "admin")[1]


def transport(server, token=None):
    """gql's transport, anonymous or with ``token``. A client outside a browser sends no Origin
    (nor cookies), and is served."""
    if token is None:
        return WebsocketsTransport(
            url=f"ws://127.0.0.1:{server.port}/graphql/",
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
    return WebsocketsTransport(
        url=f"ws://127.0.0.1:{server.port}/graphql-token/",
        init_payload={"token": token},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


# ---- graphql-ws (npm), run by Node ---------------------------------------------------------------

NODE_CLIENT = ROOT / "tests" / "js" / "graphql_ws_client.mjs"


def node_client(server, steps, path="/graphql/", connection_params=None):
    """Run tests/js/graphql_ws_client.mjs with ``steps``; return its report."""
    scenario = {
        "url": f"ws://127.0.0.1:{server.port}{path}",
        "steps": steps,
        "connectionParams": connection_params,
    }
    done = subprocess.run(
        ["node", str(NODE_CLIENT), json.dumps(scenario)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0 and done.stdout, done.stderr
    return json.loads(done.stdout)


def test_graphql_ws_subscribes_hears_create_update_delete_and_completes(server):
    name, renamed = unique("g"), unique("g")
    before = operations_on(server)
    create = 'mutation { createGroup(newGroup: {name: "%s"}) { ok group { id } } }' % name
    admin = {"path": "/graphql-token/", "connection_params": {"token": admin_token(server)}}
    first = node_client(server, [{"run": create}], **admin)
    pk = int(first["steps"][0]["data"]["createGroup"]["group"]["id"])
    report = node_client(
        server,
        [
            {
                # Following one object: after its deletion the server completes the subscription.
                "follow": 'subscription { groupChanges(id: "%s") { action model data { id name } } }' % pk,
                "count": 3,
                "then": [
                    'mutation { updateGroup(newGroup: {id: %s, name: "%s"}) { ok } }' % (pk, renamed),
                    "mutation { deleteGroup(id: %s) { ok } }" % pk,
                ],
            },
            {"follow": "subscription { groupChanges(action: CREATE) { action data { name } } }", "count": 1,
             "then": ['mutation { createGroup(newGroup: {name: "%s"}) { ok } }' % name]},
        ],
        **admin,
    )  # fmt: skip
    assert report == {
        "steps": [
            {
                "results": [{"data": {"updateGroup": {"ok": True}}}, {"data": {"deleteGroup": {"ok": True}}}],
                "events": [
                    {
                        "data": {
                            "groupChanges": {
                                "action": "UPDATE",
                                "model": "auth.group",
                                "data": {"id": pk, "name": renamed},
                            }
                        }
                    },
                    {
                        "data": {
                            "groupChanges": {
                                "action": "DELETE",
                                "model": "auth.group",
                                "data": {"id": pk, "name": renamed},
                            }
                        }
                    },
                ],
                "end": {"completed": "by the server"},
            },
            {
                "results": [{"data": {"createGroup": {"ok": True}}}],
                "events": [{"data": {"groupChanges": {"action": "CREATE", "data": {"name": name}}}}],
                "end": {"completed": "by the client"},
            },
        ],
        "closes": [1000],
    }
    wait_for(lambda: operations_on(server) == before)


def test_graphql_ws_reads_the_servers_errors_and_the_socket_keeps_serving(server):
    report = node_client(
        server,
        [
            {"run": "subscription { groupChanges { data { nope } } }"},
            {"run": "subscription { guardedChanges { action } }"},
            {"run": "{ groups(first: 1) { id } }"},
            {"run": "{ __typename }"},
        ],
    )
    assert report == {
        "steps": [
            {
                "error": [
                    {
                        "message": NOPE,
                        "locations": [{"line": 1, "column": 38}],
                    }
                ]
            },
            {"error": [{"message": "Permission denied: log in to subscribe to create on stream 'guarded'."}]},
            {
                "error": [
                    {
                        "message": "Unknown argument 'first' on field 'RootQuery.groups'.",
                        "locations": [{"line": 1, "column": 10}],
                    }
                ]
            },
            {"data": {"__typename": "RootQuery"}},
        ],
        "closes": [1000],
    }


def test_graphql_ws_with_a_refused_token_is_closed_with_4403(server):
    _, key = token_for(server, unique("token"))
    accepted = node_client(
        server, [{"run": "{ __typename }"}], path="/graphql-token/", connection_params={"token": key}
    )
    assert accepted == {"steps": [{"data": {"__typename": "RootQuery"}}], "closes": [1000]}
    refused = node_client(
        server,
        [{"run": "{ __typename }"}],
        path="/graphql-token/",
        connection_params={"token": unique("nobody")},
    )
    assert refused == {"steps": [{"error": {"closeCode": 4403}}], "closes": [4403]}


# ---- gql (PyPI) ------------------------------------------------------------------------------------


def test_gql_subscribes_hears_create_update_delete_and_completes(server):
    name, renamed = unique("g"), unique("g")
    token = admin_token(server)  # the mutations below need a user with their permission

    async def scenario():
        async with Client(transport=transport(server, token)) as session:
            events = []

            async def follow():
                async for result in session.subscribe(CHANGES):
                    events.append(result["groupChanges"])
                    if len(events) == 3:
                        return  # leaving the loop makes gql send "complete"

            following = asyncio.ensure_future(follow())
            await asyncio.sleep(0.2)  # lets gql send its subscribe before the mutations below
            # On one socket the server serves messages in order: the subscription is recorded first.
            created = await session.execute(
                gql('mutation { createGroup(newGroup: {name: "%s"}) { ok group { id } } }' % name)
            )
            pk = int(created["createGroup"]["group"]["id"])
            await session.execute(
                gql('mutation { updateGroup(newGroup: {id: %s, name: "%s"}) { ok } }' % (pk, renamed))
            )
            await session.execute(gql("mutation { deleteGroup(id: %s) { ok } }" % pk))
            await asyncio.wait_for(following, 10)
            listed = await session.execute(gql("{ groups { name } }"))
            return pk, events, listed

    pk, events, listed = asyncio.run(scenario())
    assert events == [
        {"action": "CREATE", "model": "auth.group", "data": {"id": pk, "name": name}},
        {"action": "UPDATE", "model": "auth.group", "data": {"id": pk, "name": renamed}},
        {"action": "DELETE", "model": "auth.group", "data": {"id": pk, "name": renamed}},
    ]
    assert {"name": renamed} not in listed["groups"]


def test_gql_reads_the_servers_errors(server):
    async def scenario():
        async with Client(transport=transport(server)) as session:
            failures = []
            for document in (
                "subscription { groupChanges { data { nope } } }",
                'subscription { groupChanges(id: "999999") { action } }',
                "subscription { guardedChanges { action } }",
            ):
                try:
                    async for _ in session.subscribe(gql(document)):
                        pass
                except TransportQueryError as error:
                    failures.append(error.errors)
            # The socket still serves.
            served = await session.execute(gql("{ groups { id } }"))
            return failures, served

    failures, served = asyncio.run(scenario())
    assert failures == [
        [
            {
                "message": NOPE,
                # gql sends the document as graphql-core prints it, one field a line.
                "locations": [{"line": 4, "column": 7}],
            }
        ],
        [{"message": "Unknown id '999999' on stream 'groups': no such object can be followed."}],
        [{"message": "Permission denied: log in to subscribe to create on stream 'guarded'."}],
    ]
    assert "groups" in served


def test_gql_sockets_leave_nothing_behind(server):
    before = operations_on(server)

    async def scenario():
        async with Client(transport=transport(server)) as session:

            async def follow():
                async for _ in session.subscribe(CHANGES):
                    pass

            following = asyncio.ensure_future(follow())
            await asyncio.sleep(0.2)
            await session.execute(gql("{ groups { id } }"))  # served after the subscribe
            during = operations_on(server)
            following.cancel()
            return during

    during = asyncio.run(scenario())
    assert len(during - before) == 1
    wait_for(lambda: not (operations_on(server) - before))
