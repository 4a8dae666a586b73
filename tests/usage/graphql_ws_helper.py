"""A project's own test, as README.rst shows it: GraphqlWsCommunicator against the ASGI app, in-process.

Run by test_graphql_ws_helper.py in a process of its own, on a migrated SQLite
file (threads share it, as they share a test database); prints what it saw as JSON.
"""

import asyncio
import json

import django

django.setup()

from channels.db import database_sync_to_async  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402

from graphene_django_subscriptions.testing import (  # noqa: E402
    GraphqlWsCommunicator,
    OperationFailed,
    ServerClosed,
)
from testproject.asgi import application  # noqa: E402

ORIGIN = "http://localhost"  # one of the project's ALLOWED_HOSTS
create_group = database_sync_to_async(Group.objects.create)


async def main():
    seen = {}
    client = GraphqlWsCommunicator(application, "/graphql/", origin=ORIGIN)
    seen["ack"] = await client.connect()
    created = await client.subscribe("subscription { groupChanges(action: CREATE) { action data { name } } }")
    await create_group(name="made-in-a-test")
    seen["event"] = await client.receive_event(created, timeout=5)
    seen["query"] = await client.execute("{ groups { name } }")
    try:
        await client.subscribe("subscription { groupChanges { data { nope } } }")
    except OperationFailed as failed:
        seen["refused"] = failed.errors
    await client.complete(created)
    await create_group(name="made-after-complete")
    await client.assert_no_event(1.0)
    seen["quiet after complete"] = True
    await client.disconnect()
    refused = GraphqlWsCommunicator(
        application, "/graphql-token/", origin=ORIGIN, connection_params={"token": "?"}
    )
    try:
        await refused.connect()
    except ServerClosed as closed:
        seen["closed"] = closed.code
    print(json.dumps(seen))


asyncio.run(main())
