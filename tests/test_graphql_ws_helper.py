"""The test helper users get (``graphene_django_subscriptions.testing``), used as a project's test would.

Not collected on the legacy engine (see conftest.py).
"""

import json
import subprocess
import sys

from support.graphql_ws_client import NOPE
from support.servers import CWD, ROOT


def test_the_communicator_subscribes_hears_queries_completes_and_reports_refusals(project):
    env = project("helper")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "usage" / "graphql_ws_helper.py")],
        env=env,
        cwd=str(CWD),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "ack": {"type": "connection_ack"},
        "event": {"data": {"groupChanges": {"action": "CREATE", "data": {"name": "made-in-a-test"}}}},
        "query": {"data": {"groups": [{"name": "made-in-a-test"}]}},
        "refused": [
            {
                "message": NOPE,
                "locations": [{"line": 1, "column": 38}],
            }
        ],
        "quiet after complete": True,
        "closed": 4403,
    }
