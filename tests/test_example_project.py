"""The example project, unchanged, served by its engine's ``runserver``."""

import pytest

from client import Socket, create_user, graphql, subscribe, unique, update_user
from servers import Server, django_admin, environment


@pytest.fixture(scope="module")
def example(workdir):
    env = environment("example.settings", workdir / "example.sqlite3")
    django_admin(env, "migrate", "--noinput")
    srv = Server(env, workdir / "example.log", runserver=True)
    yield srv
    srv.stop()


def test_the_readme_walkthrough_works_on_the_example_project(example):
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
