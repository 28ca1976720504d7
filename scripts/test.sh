#!/usr/bin/env bash
# The second README command: set up (with the test extras) and run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k otlp
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${OBSTACK_VENV:-.venv}
scripts/setup-venv.sh test
exec "$venv/bin/python" -m pytest "$@"
