"""Clients nobody here wrote, against a real server: the Python ``gql`` client over graphql-transport-ws.

Not collected on the legacy engine (see conftest.py).
"""

import asyncio

import requests
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from client import unique, wait_for

CHANGES = gql("subscription { groupChanges { action model data { id name } } }")


def transport(server):
    # Only pages of the site itself may open sockets (AllowedHostsOriginValidator): a
    # client outside a browser names the site in its Origin header.
    return WebsocketsTransport(
        url=f"ws://127.0.0.1:{server.port}/graphql/",
        headers={"Origin": server.http},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


def test_gql_subscribes_hears_create_update_delete_and_completes(server):
    name, renamed = unique("g"), unique("g")

    async def scenario():
        async with Client(transport=transport(server)) as session:
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
                "message": "Cannot query field 'nope' on type 'GroupSubscriptionData'. Did you mean 'name'?",
                # gql sends the document as graphql-core prints it, one field a line.
                "locations": [{"line": 4, "column": 7}],
            }
        ],
        [{"message": "Unknown id '999999' on stream 'groups': no such object can be followed."}],
        [{"message": "Permission denied: log in to subscribe to create on stream 'guarded'."}],
    ]
    assert "groups" in served


def test_gql_sockets_leave_nothing_behind(server):
    def operations_here():
        table = requests.get(f"{server.http}/testing/groups/").json()
        return {member for members in table.values() for member in members if "/" in member}

    before = operations_here()

    async def scenario():
        async with Client(transport=transport(server)) as session:

            async def follow():
                async for _ in session.subscribe(CHANGES):
                    pass

            following = asyncio.ensure_future(follow())
            await asyncio.sleep(0.2)
            await session.execute(gql("{ groups { id } }"))  # served after the subscribe
            during = operations_here()
            following.cancel()
            return during

    during = asyncio.run(scenario())
    assert len(during - before) == 1
    wait_for(lambda: not (operations_here() - before))
