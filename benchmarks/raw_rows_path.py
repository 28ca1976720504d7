"""Where should raw request rows be written from in distributed mode? Measures both ways.

(a) through the master: the worker packs its rows into its Locust report (msgpack, as Locust
    sends every report); the master unpacks them and COPYs them into PostgreSQL;
(b) from the workers: each worker COPYs its own rows into PostgreSQL.

What matters is CPU on the workers, which generate the load. Both paths run here in one
process, side by side, on the same rows, so the machine's noise hits both alike.

    python benchmarks/raw_rows_path.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gevent import monkey  # noqa: E402

monkey.patch_all()

from locust.rpc.protocol import Message  # noqa: E402

from obstack_load.results.store import Batch, open_store  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    now = time.time()
    rows = [
        (None, now + i * 1e-4, "worker-1", "POST", "/v1/logs", 1.5 + i % 50, 120, True, None)
        for i in range(args.rows)
    ]
    server = start_postgres()
    store = open_store(server.dsn)
    store.migrate()
    results: dict[str, list[float]] = {
        "worker packs rows into its report": [],
        "master unpacks and COPYs": [],
        "worker COPYs itself": [],
    }
    try:
        for round_number in range(args.rounds):
            start = time.process_time()
            packed = Message("stats", {"obstack_results": {"requests": rows}}, "w1").serialize()
            results["worker packs rows into its report"].append(time.process_time() - start)

            start = time.process_time()
            shipped = Message.unserialize(packed).data["obstack_results"]["requests"]
            store.write(Batch(f"m{round_number}", requests=[("run", *row[1:]) for row in shipped]))
            results["master unpacks and COPYs"].append(time.process_time() - start)

            start = time.process_time()
            store.write(Batch(f"w{round_number}", requests=[("run", *row[1:]) for row in rows]))
            results["worker COPYs itself"].append(time.process_time() - start)
    finally:
        store.close()
        server.stop("immediate")
    print(f"CPU microseconds per row ({args.rows:,} rows, median of {args.rounds} rounds):")
    print("| step | µs per row (CPU of this process) |")
    print("| --- | ---: |")
    for name, values in results.items():
        values.sort()
        print(f"| {name} | {values[len(values) // 2] / args.rows * 1e6:.2f} |")


if __name__ == "__main__":
    main()
