#!/usr/bin/env bash
# Run the whole test suite: lint, then the behaviour suite on every engine
# (legacy Channels 1.x and modern Channels 4 on Django 4.2, 5.2 and 6.0).
# Needs Python 3.11 and pip; Python 3.12 (for Django 6.0) is taken from pyenv
# when it is installed there. Starts redis-server on 127.0.0.1:6379 if none
# answers, and installs what is missing from Debian's packages (as root):
# redis-server, and chromium with chromium-driver for the live page's browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# tox finds interpreters on PATH; put pyenv's 3.11 and 3.12 there directly
# (virtualenv does not always see through pyenv's shims).
if command -v pyenv >/dev/null 2>&1; then
    for minor in 3.12 3.11; do
        version=$(pyenv versions --bare | grep -E "^${minor//./\\.}(\\.|$)" | tail -n 1 || true)
        if [ -n "$version" ]; then PATH="$(pyenv root)/versions/$version/bin:$PATH"; fi
    done
    export PATH
fi

redis_answers() { python3 -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1).close()" 2>/dev/null; }

missing=()
redis_answers || command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing from Debian's packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! redis_answers; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 50); do redis_answers && break; sleep 0.1; done
fi

python3 -m pip install -q "tox>=4"
python3 -m tox run-parallel --parallel 2 --parallel-no-spinner "$@"
