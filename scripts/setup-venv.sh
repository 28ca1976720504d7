#!/usr/bin/env bash
# Creates .venv (or $OBSTACK_VENV) with Python >= 3.11 and installs obstack-load into it.
# Usage: scripts/setup-venv.sh [extra]    e.g. scripts/setup-venv.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=${OBSTACK_VENV:-.venv}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "obstack-load: needs Python 3.11 or newer; $python is $("$python" --version 2>&1). Set PYTHON=python3.x" >&2
    exit 2
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e ".${1:+[$1]}"
