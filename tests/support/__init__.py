"""What the tests (and the benchmarks) share: real clients, real servers, their databases and checks.

``client``: 2018 sockets and HTTP requests, and the marker that proves "nothing more arrived";
``graphql_ws_client``: graphql-transport-ws sockets; ``servers``: test-project and example
servers, Redis servers of a test's own; ``databases``: a migrated database per server;
``gates``: a pause a test releases; ``leftovers``: rows and group places left behind;
``reliability``: churn, mass aborts, soaks and outages, also for ``benchmarks/reliability.py``;
``browser``: the live page in headless Chromium.
"""
