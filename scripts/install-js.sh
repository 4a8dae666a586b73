#!/usr/bin/env bash
# Install the JavaScript the tests and the example use, from the npm registry, as
# package-lock.json pins it: the graphql-ws client (run by Node in the tests) and
# GraphiQL with React (the example's /graphql/ page). GraphiQL's files are copied to
# example_project/example/static/example/vendor/, where Django serves them; nothing
# of it is committed. Needs Node.js and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
vendor=example_project/example/static/example/vendor
mkdir -p "$vendor"
cp node_modules/react/umd/react.production.min.js \
    node_modules/react-dom/umd/react-dom.production.min.js \
    node_modules/graphiql/graphiql.min.js \
    node_modules/graphiql/graphiql.min.css \
    node_modules/graphql-ws/umd/graphql-ws.min.js \
    "$vendor/"
echo "JavaScript installed: node_modules/ and $vendor/"
