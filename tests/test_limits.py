"""Limits: beyond each one a clear error, and the socket and the server keep serving.

The server here has small limits (GDS_LIMITS) so that a test can reach them.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.client import (
    QUIET,
    Socket,
    assert_nothing_more,
    create_user,
    graphql,
    still_served,
    subscribe,
    subscription_request,
    unique,
)

MOST_SUBSCRIPTIONS = 4
MOST_REQUESTS = 10
TOO_MANY = (
    f"Too many requests on this socket: at most {MOST_REQUESTS} a second. Wait a moment, then try again."
)


@pytest.fixture(scope="module")
def limited(limited_server):
    return limited_server(
        "limits",
        MAX_SUBSCRIPTIONS_PER_SOCKET=MOST_SUBSCRIPTIONS,
        MAX_REQUESTS_PER_SOCKET_PER_SECOND=MOST_REQUESTS,
    )


def ask(server, socket, **kwargs):
    kwargs.setdefault("action", "UPDATE")
    return graphql(server, subscription_request("userSubscription", socket.channel_id, **kwargs))["data"][
        "userSubscription"
    ]


def test_a_socket_holds_so_many_subscriptions_and_no_more(limited):
    users = [create_user(limited, unique()) for _ in range(MOST_SUBSCRIPTIONS + 1)]
    sock = Socket(limited)
    try:
        for pk in users[:MOST_SUBSCRIPTIONS]:
            subscribe(limited, sock, id=pk)
        error = (
            f"This socket would hold {MOST_SUBSCRIPTIONS + 1} subscriptions; the limit is {MOST_SUBSCRIPTIONS}. "
            "Unsubscribe from some, or follow every object with one subscription."
        )
        assert ask(limited, sock, id=users[-1])["error"] == error
        sock.send(
            {
                "stream": "users",
                "payload": {"action": "subscribe", "pk": users[-1], "data": {"action": "update"}},
            }
        )
        assert sock.recv()["payload"]["errors"] == [error]
        # Nothing was half-made: no confirmation came (at its limit, the socket can follow no marker).
        assert_nothing_more(sock, quiet=QUIET)
        # Unsubscribing makes room, and the socket serves as before.
        subscribe(limited, sock, id=users[0], operation="UNSUBSCRIBE")
        still_served(limited, sock)
    finally:
        sock.close()


def burst(server, sock):
    """``MOST_REQUESTS + 4`` concurrent requests on a fresh window; their results and how long they took."""
    time.sleep(1.1)  # a fresh window for the socket
    started = time.monotonic()
    with ThreadPoolExecutor(MOST_REQUESTS + 4) as pool:
        # Unknown ids: each request is refused, and each one counts.
        results = list(pool.map(lambda n: ask(server, sock, id=2_000_000_000 + n), range(MOST_REQUESTS + 4)))
    return results, time.monotonic() - started


def test_a_socket_makes_so_many_requests_a_second_and_refused_ones_count(limited):
    other = Socket(limited)
    sock = None
    try:
        # On a loaded machine a burst may spill into a second window; such a try proves nothing,
        # so it is made again on a new socket (a few times at most).
        for _ in range(3):
            if sock is not None:
                sock.close()
            sock = Socket(limited)
            results, took = burst(limited, sock)
            if took < 1.0:
                break
        assert took < 1.0, "the burst took too long to fit in one window"
        errors = sorted(result["error"] for result in results)
        unknown = [error for error in errors if error.startswith("Unknown id")]
        assert (len(unknown), errors.count(TOO_MANY)) == (MOST_REQUESTS, 4)
        # Another socket is not affected.
        still_served(limited, other)
        # The next second, the socket is served again.
        time.sleep(1.1)
        still_served(limited, sock)
    finally:
        if sock is not None:
            sock.close()
        other.close()


def test_every_limit_is_a_documented_setting():
    from graphene_django_subscriptions.app_settings import DEFAULTS

    reference = (Path(__file__).resolve().parent.parent / "docs" / "reference.rst").read_text()
    assert [name for name in DEFAULTS if f"``{name}``" not in reference] == []
