"""The example project, unchanged, served by its engine's ``runserver``."""

from support.client import Socket, create_user, graphql, subscribe, unique, update_user


def test_the_documented_walkthrough_works_on_the_example_project(example):
    sock = Socket(example)
    try:
        assert sock.hello == {"channel_id": sock.channel_id, "connect": "success"}
        name = unique("meaghan")
        pk = create_user(example, name)
        subscribe(example, sock, id=pk, data=["ID", "USERNAME", "FIRST_NAME"])
        update_user(example, pk, firstName="Meaghan")
        assert sock.recv() == {
            "stream": "users",
            "payload": {
                "action": "update",
                "model": "auth.user",
                "data": {"id": pk, "username": name, "first_name": "Meaghan"},
            },
        }
        assert "Group Subscription" in str(
            graphql(example, '{ __type(name: "GroupSubscription") { description } }')
        )
    finally:
        sock.close()
