#!/usr/bin/env bash
# The first README command: set up, start the reference platform, run the smoke profile headless
# with `locust --config config/smoke.conf`, print the summary and where the results went, then
# stop the platform. Extra arguments go to locust, e.g. scripts/quickstart.sh --run-time 10s
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${OBSTACK_VENV:-.venv}
scripts/setup-venv.sh
mkdir -p results
platform_log=results/platform.log
"$venv/bin/obstack-load" platform --host 127.0.0.1 --port "${OBSTACK_PORT:-0}" >"$platform_log" 2>&1 &
platform_pid=$!
trap 'kill -TERM "$platform_pid" 2>/dev/null; wait "$platform_pid" 2>/dev/null || true' EXIT

url=""
for _ in $(seq 1 600); do  # up to 60 s for the platform to bind and print its address
    url=$(sed -n 's/^obstack platform listening on //p' "$platform_log")
    [ -n "$url" ] && break
    if ! kill -0 "$platform_pid" 2>/dev/null; then
        echo "obstack-load: the reference platform did not start:" >&2
        cat "$platform_log" >&2
        exit 1
    fi
    sleep 0.1
done
[ -n "$url" ] || { echo "obstack-load: the platform did not report its address in 60 s" >&2; exit 1; }
echo "reference platform at $url (log: $platform_log)"

status=0
"$venv/bin/locust" --config config/smoke.conf --host "$url" "$@" || status=$?
echo
case "$status" in
    0) meaning="every threshold in config/thresholds/smoke.yaml passed" ;;
    1) meaning="requests failed" ;;
    2) meaning="bad input: see the one-line error above" ;;
    3) meaning="a threshold failed: see the thresholds table above" ;;
    4) meaning="a failing threshold aborted the run" ;;
    5) meaning="results could not all be stored: see the summary" ;;
    6) meaning="a worker was lost during the run" ;;
    130) meaning="interrupted (Ctrl-C or SIGTERM)" ;;
    *) meaning="see the exit codes in README.md" ;;
esac
echo "locust exit code: $status ($meaning; all codes: README.md, Exit codes)"
exit "$status"
