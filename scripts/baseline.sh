#!/usr/bin/env bash
# Establish the initial performance characteristics: run the baseline profile (100 users,
# 10 minutes) against the reference platform and record it as the baseline run in the results
# database (label "baseline", tag kind=baseline). Extra arguments go to locust, for example
# scripts/baseline.sh --run-time 2m --results-db postgresql://user@db/results
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${OBSTACK_VENV:-.venv}
scripts/setup-venv.sh
mkdir -p results
"$venv/bin/obstack-load" platform --host 127.0.0.1 --port 0 >results/baseline-platform.log 2>&1 &
platform_pid=$!
trap 'kill -TERM "$platform_pid" 2>/dev/null; wait "$platform_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 600); do
    url=$(sed -n 's/^obstack platform listening on //p' results/baseline-platform.log)
    [ -n "$url" ] && break
    kill -0 "$platform_pid" 2>/dev/null || { cat results/baseline-platform.log >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "obstack-load: the platform did not start" >&2; exit 1; }
status=0
# --run-tag on the command line replaces the profile's own tags (Locust's precedence), so give both
"$venv/bin/locust" --config config/baseline.conf --host "$url" --run-tag kind=baseline --run-tag baseline=true "$@" || status=$?
"$venv/bin/obstack-load" runs show latest ${OBSTACK_RESULTS_DB:+--results-db "$OBSTACK_RESULTS_DB"} || true
exit "$status"
