#!/usr/bin/env bash
# Run the whole test suite: lint, then the behaviour suite on every engine
# (legacy Channels 1.x and modern Channels 4 on Django 4.2, 5.2, 6.0 and 6.1), on
# SQLite, and again on PostgreSQL for one env of each engine.
#
# Needs Python 3.11 and pip, and root for apt-get. Django 6.0 and 6.1 need Python 3.12
# and Channels 1 on PostgreSQL Python 3.9 (psycopg2 2.8): both are taken from
# pyenv when it has them. Services: the Redis at 127.0.0.1:6379 and the
# PostgreSQL at 127.0.0.1:5432 (user postgres, no password) when they answer;
# otherwise they are installed from Debian's packages and started here. Each run
# makes its own databases and Redis prefixes and removes them at the end, so
# nothing else on those servers is touched. Chromium and chromium-driver come
# from Debian's packages too, for the live page's browser tests, nginx for the
# documented proxy, sqlite3 and psql as writers that are not Django, and Node.js
# with npm when missing (Debian's, for the graphql-ws client from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."

# tox finds interpreters on PATH; put pyenv's there directly (virtualenv does
# not always see through pyenv's shims). 3.11 goes last, so it stays first.
if command -v pyenv >/dev/null 2>&1; then
    for minor in 3.9 3.12 3.11; do
        version=$(pyenv versions --bare | grep -E "^${minor//./\\.}(\\.|$)" | tail -n 1 || true)
        if [ -n "$version" ]; then PATH="$(pyenv root)/versions/$version/bin:$PATH"; fi
    done
    export PATH
fi

answers() { python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$1" 2>/dev/null; }

missing=()
# The fault tests start Redis servers of their own, so the binary is needed even when one answers.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
answers 5432 || command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# nginx runs the proxy block of docs/deploying.rst (tests/test_proxy.py), as a process of the test's own.
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
# The database's own command-line clients write rows as another program would (tests/test_graphql_ws_database_writes.py).
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# Node runs the graphql-ws client of the npm registry; npm installs it and GraphiQL.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing from Debian's packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if answers 6379; then
    echo "Redis: using the server that answers at 127.0.0.1:6379."
else
    echo "Redis: none answers at 127.0.0.1:6379; starting redis-server there."
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 50); do answers 6379 && break; sleep 0.1; done
fi

if answers 5432; then
    echo "PostgreSQL: using the server that answers at 127.0.0.1:5432."
else
    echo "PostgreSQL: none answers at 127.0.0.1:5432; starting Debian's cluster there."
    cluster=$(pg_lsclusters --no-header | awk 'NR == 1 {print $1 " " $2}')
    if [ -z "$cluster" ]; then
        pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main >/dev/null
        cluster=$(pg_lsclusters --no-header | awk 'NR == 1 {print $1 " " $2}')
    fi
    read -r pg_version pg_name <<<"$cluster"
    # The tests connect as postgres over TCP without a password, as on machines that ship PostgreSQL.
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' \
        "/etc/postgresql/$pg_version/$pg_name/pg_hba.conf"
    pg_ctlcluster "$pg_version" "$pg_name" start
    for _ in $(seq 100); do answers 5432 && break; sleep 0.1; done
fi

# The graphql-ws client and GraphiQL, from the npm registry (package-lock.json).
bash scripts/install-js.sh

python3 -m pip install -q "tox>=4"
envs=$(python3 -m tox list --no-desc -q 2>/dev/null | grep -v '^bench-' | paste -sd, -)
status=0
python3 -m tox run-parallel -e "$envs" --parallel 2 --parallel-no-spinner "$@" || status=$?

# tox's parallel mode hides pytest's summary: print one line per env from its report.
python3 - "$envs" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

total = [0, 0, 0]
for env in sys.argv[1].split(","):
    report = Path(".tox") / env / "tmp" / "junit.xml"
    if env in ("qa", "docs"):  # no tests of their own: tox reports them
        continue
    if not report.exists():
        print(f"{env}: no report (the env did not run its tests)")
        continue
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    counts = [tests - failures - errors - skipped, failures + errors, skipped]
    total = [a + b for a, b in zip(total, counts)]
    print(f"{env}: {counts[0]} passed, {counts[1]} failed, {counts[2]} skipped")
print(f"total: {total[0]} passed, {total[1]} failed, {total[2]} skipped")
PY
exit "$status"
