"""GraphiQL at /graphql/, driven in headless Chromium: its subscriptions run over GraphqlWsConsumer,
its queries and mutations over HTTP with the CSRF token, and every file it loads is the project's own.

Not collected on the legacy engine (see conftest.py), where the stock GraphiQL stays.
"""

import json
import re
from urllib.parse import quote

import pytest
import requests

from support.browser import Chromium, LivePage
from support.client import TIMEOUT, create_group, graphql, unique, wait_for
from support.graphql_ws_client import operations_on
from support.servers import Server

#: A browser (or a proxy) in front of the server: the same whatever the Django version.
pytestmark = pytest.mark.stack

VENDOR = "/static/example/vendor/"
INSTALL_HINT = "bash scripts/install-js.sh"


@pytest.fixture(scope="module")
def graphiql_server(workdir, project):
    """A server of these tests alone: the operations its groups hold are GraphiQL's."""
    srv = Server(project("graphiql"), workdir / "graphiql.log")
    yield srv
    srv.stop()


@pytest.fixture
def graphiql(chromium, graphiql_server):
    """Opens GraphiQL with a query in the tab; the browser's console starts empty."""
    driver = chromium.driver
    driver.get_log("browser")  # reading the log empties it: earlier tests' entries are gone

    def open_with(query):
        driver.get(f"{graphiql_server.http}/graphql/?query={quote(query)}")
        page = GraphiQL(driver, driver.current_window_handle)
        page.wait(lambda: page.find_all(".graphiql-execute-button"), "GraphiQL did not render")
        return page

    yield open_with
    chromium.close_tabs()


class GraphiQL(LivePage):
    """GraphiQL in one tab, read through its CodeMirror editors (first the query, last the result)."""

    EDITORS = "[...document.querySelectorAll('.graphiql-container .CodeMirror')]"

    def query(self):
        return self.read(f"return {self.EDITORS}[0].CodeMirror.getValue();")

    def type_query(self, text):
        self.read(f"{self.EDITORS}[0].CodeMirror.setValue({json.dumps(text)});")

    def result(self):
        """The result pane's JSON, decoded; None while it is empty."""
        text = self.read(f"return {self.EDITORS}.at(-1).CodeMirror.getValue();")
        return json.loads(text) if text.strip() else None

    def run(self):
        """Press the run button: it stops the operation instead while a subscription is live."""
        self.click(".graphiql-execute-button")

    def button(self):
        return self.find(".graphiql-execute-button").get_attribute("aria-label")

    def wait_for_result(self, expected):
        self.wait(lambda: self.result() == expected, f"the result pane shows {self.result()!r}")

    def console(self):
        """What the browser logged since the last call (Chromium's console and failed loads)."""
        return self.driver.get_log("browser")


def test_the_page_loads_nothing_from_elsewhere(graphiql_server):
    page = requests.get(f"{graphiql_server.http}/graphql/", headers={"Accept": "text/html"}, timeout=TIMEOUT)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    # The view asks for the token on cookie-carrying POSTs: the page's visitor must hold it.
    assert page.cookies.get("csrftoken")
    links = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    # The favicon is an empty data: URL (no /favicon.ico request, no 404 in the console).
    assert [link for link in links if not link.startswith("/")] == ["data:,"], links
    assets = [link for link in links if link.startswith("/")]
    assert sorted(assets) == sorted(
        VENDOR + name
        for name in (
            "graphiql.min.css",
            "react.production.min.js",
            "react-dom.production.min.js",
            "graphql-ws.min.js",
            "graphiql.min.js",
        )
    )
    for asset in assets:
        response = requests.get(f"{graphiql_server.http}{asset}", timeout=TIMEOUT)
        assert response.status_code == 200 and response.content, asset
    # Shown until GraphiQL renders (the next tests see it go), or for good when the files are missing.
    assert INSTALL_HINT in page.text


def test_a_subscription_run_in_graphiql_shows_the_event(graphiql, graphiql_server):
    query = "subscription { groupChanges(action: CREATE) { action data { name } } }"
    before = operations_on(graphiql_server)
    page = graphiql(query)
    assert page.query() == query
    assert page.find_all("#graphiql-missing") == []
    assert page.result() is None

    page.run()
    # The server holds the operation: the event cannot be sent before it is subscribed.
    (operation,) = page.wait(
        lambda: operations_on(graphiql_server) - before, "the server holds no operation of GraphiQL's"
    )
    page.wait(lambda: page.button() == "Stop query (Ctrl-Enter)", "GraphiQL does not show a live operation")
    assert page.result() is None

    name = unique("graphiql")
    create_group(graphiql_server, name)
    page.wait_for_result({"data": {"groupChanges": {"action": "CREATE", "data": {"name": name}}}})

    # The next event replaces it.
    second = unique("graphiql")
    create_group(graphiql_server, second)
    page.wait_for_result({"data": {"groupChanges": {"action": "CREATE", "data": {"name": second}}}})

    # Stopping it in GraphiQL ends the operation on the server.
    page.run()
    wait_for(lambda: operation not in operations_on(graphiql_server))
    page.wait(lambda: page.button() == "Execute query (Ctrl-Enter)", "GraphiQL still shows the operation")
    assert page.console() == []


def test_a_query_and_a_logged_in_mutation_run_over_http(graphiql, graphiql_server):
    create_group(graphiql_server, unique("listed"))
    page = graphiql("{ groups { name } }")
    page.run()
    expected = graphql(graphiql_server, "{ groups { name } }")
    assert expected["data"]["groups"]
    page.wait_for_result(expected)

    # Logging in (in the page, as a login form would) rotates the CSRF token: the
    # mutation, which carries the session cookie, must send the new one.
    token = page.driver.get_cookie("csrftoken")["value"]
    status = page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/testing/login/', {method: 'POST', body: JSON.stringify("
        "{username: arguments[0], permissions: ['auth.add_group']})})"
        ".then((response) => done(response.status), (error) => done(String(error)));",
        unique("graphiql"),
    )
    assert status == 200
    assert page.driver.get_cookie("sessionid")
    assert page.driver.get_cookie("csrftoken")["value"] != token

    name = unique("made")
    page.type_query("mutation { createGroup(newGroup: {name: %s}) { ok group { name } } }" % json.dumps(name))
    page.run()
    page.wait_for_result({"data": {"createGroup": {"ok": True, "group": {"name": name}}}})
    assert {"name": name} in graphql(graphiql_server, "{ groups { name } }")["data"]["groups"]
    assert page.console() == []


def test_without_the_installed_files_the_page_says_how_to_get_them(graphiql_server):
    # A browser of its own whose requests for GraphiQL's files fail, as with no install-js.sh run.
    browser = Chromium()
    try:
        driver = browser.driver
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": [f"*{VENDOR}*"]})
        driver.get(f"{graphiql_server.http}/graphql/")
        page = GraphiQL(driver, driver.current_window_handle)
        page.wait(lambda: page.read("return document.readyState;") == "complete", "the page never loaded")
        message = page.find("#graphiql-missing")
        assert message.is_displayed() and INSTALL_HINT in message.text
        assert page.find_all(".graphiql-container") == []
        missing = page.read("return [typeof React, typeof ReactDOM, typeof graphqlWs, typeof GraphiQL];")
        assert missing == ["undefined"] * 4
        # The page's script saw the files missing and stopped: no error of its own.
        assert page.console() == []
    finally:
        browser.quit()
