"""Where should raw request rows be written from in distributed mode? Measures both ways.

(a) through the master: the worker packs its rows into its Locust report (msgpack, as Locust
    sends every report); the master unpacks them and COPYs them into PostgreSQL;
(b) from the workers: each worker COPYs its own rows into PostgreSQL.

It also measures what the results plugin's ``request`` listener costs per successful request,
with every row kept and with aggregates only (read from Locust's stats, so the listener has
nothing to do), next to Locust's own per-request bookkeeping (``RequestStats.log_request``).

What matters is CPU on the workers, which generate the load. Both paths run here in one
process, side by side, on the same rows, so the machine's noise hits both alike.

    python benchmarks/raw_rows_path.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gevent import monkey  # noqa: E402

monkey.patch_all()

from locust.rpc.protocol import Message  # noqa: E402
from locust.stats import RequestStats  # noqa: E402

from obstack_load.results.node import NodeRecorder  # noqa: E402
from obstack_load.results.rows import unship  # noqa: E402
from obstack_load.results.store import Batch, open_store  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    times = [1.5 + i % 50 for i in range(args.rows)]

    def listened(mode: str = "all") -> tuple[NodeRecorder, float]:
        """The results listener fed that many requests, and its CPU seconds doing it."""
        options = SimpleNamespace(
            results_requests=mode, results_interval=5.0, results_buffer_rows=args.rows
        )
        recorder = NodeRecorder()
        recorder.configure(options, "worker-1", "worker", RequestStats())
        on_request = recorder.on_request
        start = time.process_time()
        for response_time in times:
            on_request("POST", "/v1/logs", response_time, 120, None, None)
        return recorder, time.process_time() - start - loop_alone()

    def locust_own() -> float:
        log_request = RequestStats().log_request
        start = time.process_time()
        for response_time in times:
            log_request("POST", "/v1/logs", response_time, 120)
        return time.process_time() - start - loop_alone()

    def loop_alone() -> float:
        start = time.process_time()
        for _ in times:
            len(())
        return time.process_time() - start

    server = start_postgres()
    store = open_store(server.dsn)
    store.migrate()
    results: dict[str, list[float]] = {
        "Locust's own stats, per request (RequestStats.log_request)": [],
        "results listener, per request, every row kept": [],
        "results listener, per request, aggregates only": [],
        "worker ships its row blocks": [],
        "worker packs them into its report": [],
        "master unpacks and COPYs": [],
        "worker COPYs itself": [],
    }
    try:
        for round_number in range(args.rounds):
            results["Locust's own stats, per request (RequestStats.log_request)"].append(
                locust_own()
            )
            recorder, cpu = listened()
            results["results listener, per request, every row kept"].append(cpu)
            results["results listener, per request, aggregates only"].append(listened("none")[1])
            start = time.process_time()
            shipment = recorder.ship()
            results["worker ships its row blocks"].append(time.process_time() - start)
            start = time.process_time()
            packed = Message("stats", {"obstack_results": shipment}, "w1").serialize()
            results["worker packs them into its report"].append(time.process_time() - start)

            start = time.process_time()
            shipped = Message.unserialize(packed).data["obstack_results"]["requests"]
            store.write(Batch(f"m{round_number}", requests=unship(shipped, "run", "worker-1")))
            results["master unpacks and COPYs"].append(time.process_time() - start)

            start = time.process_time()
            blocks = unship(shipment["requests"], "run", "worker-1")
            store.write(Batch(f"w{round_number}", requests=blocks))
            results["worker COPYs itself"].append(time.process_time() - start)
    finally:
        store.close()
        server.stop("immediate")
    print(f"CPU microseconds per row ({args.rows:,} rows, median of {args.rounds} rounds):")
    print("| step | µs per row or request (CPU of this process) |")
    print("| --- | ---: |")
    for name, values in results.items():
        values.sort()
        print(f"| {name} | {values[len(values) // 2] / args.rows * 1e6:.2f} |")


if __name__ == "__main__":
    main()
