#!/usr/bin/env bash
# Install the package and the example project into .venv-example, then serve
# it at http://127.0.0.1:8000/: the live page at /, GraphiQL at /graphql/,
# the 2018 protocol's WebSocket at /subscriptions/ and graphql-transport-ws at
# /graphql/ (modern engine). SQLite and the in-memory channel layer: no services
# needed. GraphiQL's files come from the npm registry (scripts/install-js.sh),
# when npm is there.
#   bash scripts/run-example.sh            # modern engine (Channels 4)
#   bash scripts/run-example.sh --legacy   # legacy engine (Channels 1.x), in .venv-example-legacy
set -euo pipefail
cd "$(dirname "$0")/.."

engine=modern
if [ "${1:-}" = "--legacy" ]; then engine=legacy; shift; fi
venv=".venv-example"
[ "$engine" = legacy ] && venv=".venv-example-legacy"

python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -e ".[$engine]"
if [ "$engine" = modern ]; then
    if command -v npm >/dev/null 2>&1; then
        bash scripts/install-js.sh
    else
        echo "npm is not installed: /graphql/ will say how to get GraphiQL (bash scripts/install-js.sh)."
    fi
fi
cd example_project
"../$venv/bin/python" manage.py migrate --noinput
# The superuser who may change users and groups on the page, with a new password each start.
"../$venv/bin/python" manage.py demo_admin
echo "Open http://${1:-127.0.0.1:8000}/ in a browser (Ctrl-C stops the server)."
exec "../$venv/bin/python" manage.py runserver "${@:-127.0.0.1:8000}"
