"""``recent.Recent``: the bounded map behind the process's caches (documents, replayed changes)."""

import threading

from graphene_django_subscriptions.recent import Recent


def test_the_least_recently_used_go_first_past_the_count():
    kept = Recent(most=3, most_size=1000, size=lambda key, value: len(value))
    for key in "abc":
        kept.put(key, key * 2)
    assert kept.get("a") == "aa"  # used: "b" is now the oldest
    kept.put("d", "dd")
    assert [kept.get(key) for key in "abcd"] == ["aa", None, "cc", "dd"]


def test_past_the_size_as_many_go_as_it_takes():
    kept = Recent(most=100, most_size=10, size=lambda key, value: len(value))
    kept.put("a", "x" * 4)
    kept.put("b", "x" * 4)
    kept.put("c", "x" * 9)  # 17 in all: both older values go
    assert [kept.get(key) for key in "abc"] == [None, None, "x" * 9]
    kept.put("d", "x" * 11)  # larger than the bound alone: kept by nobody
    assert [kept.get(key) for key in "cd"] == [None, None]


def test_a_key_kept_already_keeps_its_first_value():
    kept = Recent(most=10, most_size=100, size=lambda key, value: len(value))
    kept.put("a", "first")
    kept.put("a", "second")
    assert kept.get("a") == "first"


def test_threads_that_put_and_get_at_once_keep_the_bounds():
    kept = Recent(most=50, most_size=400, size=lambda key, value: len(value))

    def work(number):
        for index in range(2000):
            kept.put((number, index), "x" * (index % 13))
            kept.get((number, index - 1))

    threads = [threading.Thread(target=work, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    values = [kept.get((number, index)) for number in range(8) for index in range(2000)]
    held = [value for value in values if value is not None]
    assert 0 < len(held) <= 50 and sum(map(len, held)) <= 400
