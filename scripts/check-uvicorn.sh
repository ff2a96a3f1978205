#!/usr/bin/env bash
# Runs the websocket tests against the newest uvicorn release, in a throwaway venv, before anyone
# widens the `uvicorn>=0.54,<0.55` pin: checkin.server.websocket builds on uvicorn's protocol helpers,
# which a minor release may change. Not part of `make test`: a new release must not block landing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q -e '.[test]'
"$venv/bin/pip" install -q --upgrade --no-deps uvicorn  # past our own pin, on purpose
echo "uvicorn $("$venv/bin/python" -c 'import uvicorn; print(uvicorn.__version__)') (pinned: $(grep -o '"uvicorn[^"]*"' pyproject.toml | head -1))"
"$venv/bin/pytest" -q -p no:cacheprovider tests/test_websocket.py tests/test_watch.py tests/test_dashboard.py "$@"
