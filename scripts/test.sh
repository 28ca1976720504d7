#!/usr/bin/env bash
# The second README command: set up (with the test extras) and run the whole test suite.
# Extra arguments go to one pytest process, e.g. scripts/test.sh -k otlp. With none, the suite
# runs as OBSTACK_TEST_SHARDS processes side by side (default 4: most tests wait on the clock,
# not the CPU; see tests/shard.py), each logging to results/test-shard-K.log and writing
# results/junit-K.xml.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${OBSTACK_VENV:-.venv}
scripts/setup-venv.sh test
if [ "$#" -gt 0 ]; then
    exec "$venv/bin/python" -m pytest "$@"
fi
shards=${OBSTACK_TEST_SHARDS:-4}
mkdir -p results
pids=()
for k in $(seq 1 "$shards"); do
    "$venv/bin/python" -m pytest -p tests.shard --shard "$k/$shards" \
        --junitxml "results/junit-$k.xml" > "results/test-shard-$k.log" 2>&1 &
    pids+=("$!")
done
status=0
for k in $(seq 1 "$shards"); do
    if wait "${pids[$((k - 1))]}"; then
        echo "shard $k/$shards: $(tail -n 1 "results/test-shard-$k.log")"
    else
        status=1
        echo "shard $k/$shards FAILED; its log (results/test-shard-$k.log):"
        cat "results/test-shard-$k.log"
    fi
done
# then the tests that need the machine to themselves (marked alone: capacity searches), one
# process, after every shard has finished
if "$venv/bin/python" -m pytest -m alone --junitxml results/junit-alone.xml \
        > results/test-alone.log 2>&1; then
    echo "alone: $(tail -n 1 results/test-alone.log)"
else
    status=1
    echo "alone FAILED; its log (results/test-alone.log):"
    cat results/test-alone.log
fi
exit "$status"
