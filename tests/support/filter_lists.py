"""Lists kept from the actions alone of filtered subscriptions, and the random changes that test them.

Each lookup kind the package judges has a subscription (``lookups``); random
creates, updates that move articles in and out, and deletes (``CHANGE``) are
saved back to back by the server (``Articles.steps``); each list, kept by
``keep`` from the events, must hold what the database's own query returns
(``assert_as_queried``). Both protocols' tests use them.
"""

from hypothesis import strategies as st

from support.client import at_once, post, unique

TITLES = ["abc", "Abc", "ABC", "xbz", "Äpfel", "äpfel", "straße", "STRASSE", ""]
STATUSES = ["draft", "live"]
# In the server's time zone (Chicago), the second is still in 2025.
PUBLISHED = [None, "2025-12-31T23:30:00+00:00", "2026-01-01T05:30:00+00:00", "2025-06-01T12:00:00+00:00"]
PUBLISHED_ON = [None, "2025-01-01", "2025-06-30", "2025-07-01", "2024-06-01"]


def camel(name):
    """An argument's Python name as a client writes it, as graphene camel-cases it: ``author__in`` is ``author_In``."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] if part else "_" for part in rest)


def lookups(authors, names):
    """``(stream, arguments)`` of a subscription for each lookup kind the package judges (and two at once);
    ``authors`` are the test's authors' ids, ``names`` their usernames."""
    first, second = (str(pk) for pk in authors[:2])
    filtered = [
        {"author": first},
        {"author__in": [first, second]},
        {"status": "live"},
        {"status__in": ["draft"]},
        {"title": "abc"},
        {"title__iexact": "abc"},
        {"title__iexact": "äpfel"},
        {"title__contains": "b"},
        {"title__contains": "B"},
        {"title__icontains": "ä"},
        {"title__icontains": "ss"},
        {"title__startswith": "a"},
        {"title__endswith": "C"},
        {"published__isnull": True},
        {"published__isnull": False},
        {"published__gt": "2025-12-31T23:00:00+00:00"},
        {"published__lte": "2025-12-31T23:30:00+00:00"},
        {"published__year": 2025},
        {"published_on__range": ["2025-01-01", "2025-06-30"]},
        {"published_on__month": 6},
        {"published_on__day": 1},
        {"author": first, "status": "live"},
    ]
    # A project's FilterSet: a declared icontains, an exclude, an exact.
    filter_set = [{"title": "b"}, {"not_status": "live"}, {"author": first}]
    # A stream whose Meta.queryset holds live articles only: objects enter and leave it too.
    live = [{}, {"author": first}, {"title__icontains": "b"}]
    # Filters only a query can judge: across a relation, a regular expression, text in order, a method.
    queried = [
        {"author__username": names[0]},
        {"author__username__icontains": names[1][-6:].upper()},
        {"author__is_staff": False},
        {"title__regex": "^[aA]b"},
        {"title__gt": "abc"},
        {"status": "live", "title__regex": "b"},
    ]
    dated = [{"dated": True}, {"written_by": names[0]}, {"dated": False, "author": second}]
    # A per-recipient rule that shows anonymous users live articles only: they enter and leave it per user.
    return (
        [("filtered-articles", one) for one in filtered]
        + [("filterset-articles", one) for one in filter_set]
        + [("live-articles", one) for one in live]
        + [("public-articles", one) for one in live]
        + [("queried-articles", one) for one in queried]
        + [("dated-articles", one) for one in dated]
    )


FIELDS = {
    "title": st.sampled_from(TITLES),
    "status": st.sampled_from(STATUSES),
    "author_id": st.integers(0, 2),  # which of the test's three authors
    "published": st.sampled_from(PUBLISHED),
    "published_on": st.sampled_from(PUBLISHED_ON),
}
#: One change: its kind, which living article (an index into them), the values of a create, those of an update.
CHANGE = st.tuples(
    st.sampled_from(["create", "update", "delete"]),
    st.integers(0, 1000),
    st.fixed_dictionaries(FIELDS),
    st.fixed_dictionaries({}, optional=FIELDS),
)


class Articles:
    """The articles one test made: those still alive, and all of them."""

    def __init__(self, authors):
        self.authors = authors
        self.alive = []
        self.made = set()

    def save(self, server, changes):
        """Save ``changes`` (``CHANGE`` values) back to back in one request to the server."""
        steps, alive, deleted = [], list(self.alive), []
        for number, (kind, index, created, updated) in enumerate(changes):
            if kind == "create" or not alive:
                steps.append({"create": "article", "as": f"n{number}", "set": self._values(created)})
                alive.append(f"n{number}")
                continue
            target = alive[index % len(alive)]
            name = target if isinstance(target, str) else f"loaded{number}"
            if not isinstance(target, str):
                steps.append({"load": "article", "pk": target, "as": name})
            if kind == "update":
                steps.append({"update": name, "set": self._values(updated)})
            else:
                steps.append({"delete": name})
                alive.remove(target)
                deleted.append(target)
        made = post(server, "/testing/changes/", {"steps": steps})["ids"]
        self.made.update(made.values())
        self.alive.extend(pk for name, pk in made.items() if name not in deleted)
        self.alive = [pk for pk in self.alive if pk not in deleted]

    def _values(self, given):
        return {**given, "author_id": self.authors[given["author_id"]]} if "author_id" in given else given


def keep(ids, action, cause, pk, what):
    """Apply one event to the list ``ids``, as a client would, checking it makes sense (``what`` names the list)."""
    action, cause = action.upper(), cause.upper()
    if action == "CREATE":
        assert pk not in ids and cause in ("CREATED", "ENTERED"), (what, action, cause, pk)
        ids.add(pk)
    elif action == "UPDATE":
        assert pk in ids and cause == "UPDATED", (what, action, cause, pk)
    else:
        assert action == "DELETE" and pk in ids and cause in ("DELETED", "LEFT"), (what, action, cause, pk)
        ids.remove(pk)


def assert_as_queried(server, stream, arguments, ids, articles):
    """``ids`` are the articles of ``articles`` that the filter's query on the stream returns now."""
    expected = post(server, "/testing/filtered/", {"stream": stream, "filter": arguments})["ids"]
    assert ids == set(expected) & articles.made, (stream, arguments)


def open_lists(server, make):
    """``(Articles, lists)``: three new authors, and a list (``make(server, stream, arguments)``) for each of
    ``lookups``, all subscribing at once."""
    names = [unique("author") for _ in range(3)]
    authors = [post(server, "/testing/user/", {"username": name})["id"] for name in names]
    wanted = lookups(authors, names)
    return Articles(authors), at_once(len(wanted), lambda n: make(server, *wanted[n]))


def save_and_check(server, articles, lists, changes):
    """Save ``changes``; once each list has read up to a marker saved after them, check it against the database.

    Each list has ``read_until(label)``, ``stream``, ``arguments`` and ``ids``.
    """
    articles.save(server, changes)
    label = unique("marker")
    post(server, "/testing/marker/", {"label": label})
    at_once(len(lists), lambda n: lists[n].read_until(label))
    for one in lists:
        assert_as_queried(server, one.stream, one.arguments, one.ids, articles)
