"""The documentation's client and test snippets, run as a user would paste them.

Each snippet is read from the pages themselves (``docs/*.rst``), so the two cannot drift apart:
the ``graphql-ws`` client in Node, the ``gql`` client in Python, the pytest
example with its ``pytest.ini``; the only changes are the server's address and
a real token. The token consumer and the receiver that revokes a deleted token
are the test project's own code, which the other tests run: here they are
compared with the documentation's.
"""

import inspect
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

from support.client import TIMEOUT, create_group, post, token_for, unique
from support.docs import snippet
from support.servers import CWD, ROOT, Server, django_admin

EXAMPLE_URL = "wss://example.com/graphql/"


def run_until(command, trigger, seen, env=None, cwd=ROOT, timeout=TIMEOUT * 3):
    """Start ``command``; call ``trigger()`` until its output holds ``seen``; return the output. Ends it."""
    process = subprocess.Popen(
        command, cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while seen not in "".join(lines):
            assert time.monotonic() < deadline, f"{seen!r} never came; the snippet printed:\n{''.join(lines)}"
            assert process.poll() is None, f"the snippet ended:\n{''.join(lines)}"
            trigger()  # the subscription may not be live yet: change again until it is heard
            time.sleep(0.3)
    finally:
        process.kill()
        process.wait()
        reader.join(5)
    return "".join(lines)


def run_in_node(code, trigger, seen, env=None):
    """``run_until`` for JavaScript ``code``, run by Node as a module beside node_modules (its imports)."""
    path = ROOT / f".doc-snippet-{uuid.uuid4().hex}.mjs"
    path.write_text(code)
    try:
        return run_until(["node", str(path)], trigger, seen, env=env)
    finally:
        path.unlink()


def test_the_graphql_ws_snippet_runs_in_node_as_written(server):
    code = snippet("The ``graphql-ws`` client (npm), in a page or in Node::")
    assert EXAMPLE_URL in code
    code = code.replace(EXAMPLE_URL, f"ws://127.0.0.1:{server.port}/graphql-token/")
    pk, key = token_for(server, unique("node"))
    name = unique("renamed")
    output = run_in_node(
        code,
        lambda: post(server, f"/testing/user/{pk}/", {"username": name}),
        name,
        env=dict(os.environ, API_TOKEN=key),
    )
    assert f"{{ action: 'UPDATE', data: {{ id: {pk}, username: '{name}' }} }}" in output, output


#: What a page would add around the Apollo and urql snippets, in Node: Node 20 has no WebSocket
#: (Node 22 and browsers do), the page's CSRF token, and a subscription that prints its events.
NODE_PAGE = """import { WebSocket as NodeWebSocket } from "ws";
globalThis.WebSocket = NodeWebSocket;
const csrftoken = "";
"""
GROUPS_CREATED = "subscription { groupChanges(action: CREATE) { action data { name } } }"
FOLLOW = {
    "apollo": """
import { gql as parse } from "@apollo/client";
apollo.subscribe({ query: parse`%s` }).subscribe({
  next: (result) => console.log(JSON.stringify(result.data.groupChanges)),
  error: (error) => console.error(error),
});
"""
    % GROUPS_CREATED,
    "urql": """
urql.subscription(`%s`, {}).subscribe((result) => console.log(JSON.stringify(result.data.groupChanges)));
"""
    % GROUPS_CREATED,
}


@pytest.mark.parametrize(
    "client, intro", [("apollo", "Apollo Client, through the same client::"), ("urql", "urql::")]
)
def test_the_apollo_and_urql_snippets_hear_a_change_in_node(server, client, intro):
    code = snippet(intro)
    assert EXAMPLE_URL in code
    code = NODE_PAGE + code.replace(EXAMPLE_URL, f"ws://127.0.0.1:{server.port}/graphql/") + FOLLOW[client]
    name = unique(client)
    output = run_in_node(code, lambda: create_group(server, f"{name}-{uuid.uuid4().hex[:6]}"), name)
    # Apollo's cache asks for each object's __typename too.
    typename = {"apollo": ('"__typename":"GroupSubscriptionEvent",', '"__typename":"GroupSubscriptionData",')}
    event, data = typename.get(client, ("", ""))
    assert f'{{{event}"action":"CREATE","data":{{{data}"name":"{name}-' in output, output


def test_the_resuming_snippet_hears_what_was_saved_while_its_server_was_down(limited_server, workdir):
    """The graphql-ws client reconnects by itself; its connectionParams carry the cursor it resumes after."""
    served = limited_server("resuming-node")
    code = snippet("Remember each event's cursor, and the client resumes by itself::")
    assert EXAMPLE_URL in code
    path = ROOT / f".doc-snippet-{uuid.uuid4().hex}.mjs"
    path.write_text(code.replace(EXAMPLE_URL, f"ws://127.0.0.1:{served.port}/graphql/"))
    process = subprocess.Popen(["node", str(path)], cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)  # fmt: skip
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    restarted = None

    def printed(text, trigger=lambda: None):
        deadline = time.monotonic() + TIMEOUT * 3
        while text not in "".join(lines):
            assert time.monotonic() < deadline, f"{text!r} never came; the snippet printed:\n{''.join(lines)}"
            trigger()
            time.sleep(0.3)

    try:
        live, missed, after = unique("live"), unique("missed"), unique("after")
        printed("CREATE early", trigger=lambda: create_group(served, unique("early")))  # until it is live
        create_group(served, live)
        printed(f"CREATE {live}")
        served.stop()
        # Saved by another process while no server runs: only the change log can tell the client.
        create = f"from django.contrib.auth.models import Group; Group.objects.create(name={missed!r})"
        django_admin(served.env, "shell", "-c", create)
        restarted = Server(served.env, workdir / "resuming-node-2.log", port=served.port)
        printed(f"CREATE {missed}")
        create_group(restarted, after)
        printed(f"CREATE {after}")
    finally:
        process.kill()
        process.wait()
        reader.join(5)
        path.unlink()
        if restarted is not None:
            restarted.stop()
    output = "".join(lines)
    heard = [line for line in output.splitlines() if line.startswith("CREATE") and "early" not in line]
    assert heard == [f"CREATE {live}", f"CREATE {missed}", f"CREATE {after}"], output


def test_the_gql_snippet_runs_as_written(server):
    code = snippet('Python, with ``gql`` (``pip install "gql[websockets]"``)::')
    assert EXAMPLE_URL in code
    code = code.replace(EXAMPLE_URL, f"ws://127.0.0.1:{server.port}/graphql-token/")
    _, key = token_for(server, unique("gql"))
    name = unique("g")
    output = run_until(
        [sys.executable, "-c", code],
        lambda: create_group(server, f"{name}-{uuid.uuid4().hex[:6]}"),
        name,
        env=dict(os.environ, API_TOKEN=key),
    )
    assert f"{{'action': 'CREATE', 'data': {{'name': '{name}-" in output, output


def test_the_pytest_example_passes_with_its_pytest_ini(tmp_path):
    ini = snippet("coroutines::")
    test = snippet("Then a test::")
    assert "project.settings" in ini and "project.asgi" in test
    (tmp_path / "pytest.ini").write_text(ini.replace("project.settings", "testproject.settings"))
    (tmp_path / "test_doc_example.py").write_text(test.replace("project.asgi", "testproject.asgi"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(CWD), str(ROOT / "example_project")]))
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the snippet's pytest.ini says it
    env.pop("GDS_DATABASE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout


def test_the_token_snippets_are_the_test_project_s_own_code():
    from testproject.consumers import TokenGraphqlWsConsumer
    from testproject.models import close_the_sockets_of_a_deleted_token

    consumer = snippet("refused (4403) too::")
    receiver = snippet("of the key is stored)::")
    assert textwrap.dedent(inspect.getsource(TokenGraphqlWsConsumer)) in consumer
    assert inspect.getsource(close_the_sockets_of_a_deleted_token) in receiver


def test_the_validation_rules_snippet_gives_the_consumer_the_rule_the_shallow_route_enforces():
    from graphene_django_subscriptions import GraphqlWsConsumer
    from testproject.consumers import ShallowGraphqlWsConsumer

    namespace = {"GraphqlWsConsumer": GraphqlWsConsumer}  # the page's earlier snippets import it
    exec(snippet("they are checked beside the specification's::"), namespace)
    (rule,) = namespace["LimitedGraphqlWsConsumer"].validation_rules
    (shallow,) = ShallowGraphqlWsConsumer.validation_rules  # the route test_graphql_ws runs
    assert type(rule) is type(shallow) and rule.__qualname__ == shallow.__qualname__
