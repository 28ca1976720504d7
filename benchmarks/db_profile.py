"""config/database.conf and config/database-platform.conf together, on a seeded database.

PostgreSQL is started here and seeded with ``--rows`` points (10M by default); the platform
runs on it (``--db``); then the database users (config/database.conf, straight at the database)
and the API mix with OTLP ingestion through the platform (config/database-platform.conf) run at
the same time for ``--run-time``. It prints task 9.3's figures from both summaries: the insert
rate held and its corrected p95, the query averages, index utilisation, the cache hit ratio,
and the platform's pool utilisation and efficiency.

    python benchmarks/db_profile.py [--rows 10000000] [--run-time 5m]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.postgres import seeded_database, start_postgres  # noqa: E402
from tests.support import locust_command, start_platform  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--run-time", default="5m")
    args = parser.parse_args()
    server = start_postgres()
    platform = None
    try:
        dsn = seeded_database(server, "profile", args.rows, args.days)
        platform = start_platform("--db", dsn)
        out = Path(tempfile.mkdtemp(prefix="db-profile-"))
        common = ("--run-time", args.run_time, "--html", "", "--csv", "")
        direct = subprocess.Popen(
            locust_command("--config", "config/database.conf", "--db-target", dsn,
                           "--summary-json", str(out / "database.json"),
                           "--results-db", str(out / "results.db"), *common),
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        through = subprocess.Popen(
            locust_command("--config", "config/database-platform.conf", "--host", platform.url,
                           "--summary-json", str(out / "platform.json"),
                           "--results-db", str(out / "results-platform.db"), *common),
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        outputs = {"database.conf": direct.communicate()[0],
                   "database-platform.conf": through.communicate()[0]}  # fmt: skip
        codes = {"database.conf": direct.returncode, "database-platform.conf": through.returncode}
    finally:
        if platform is not None:
            platform.stop()
        server.stop("fast")
    for name, text in outputs.items():
        print(f"==== {name} (exit {codes[name]})")
        print(text[-6000:])
    database = json.loads((out / "database.json").read_text())
    through_platform = json.loads((out / "platform.json").read_text())
    figures = {
        "requests": {
            r["name"]: {k: r[k] for k in ("requests", "failures", "rps", "avg_ms", "p95_ms")}
            for r in database["requests"]
        },  # fmt: skip
        "arrival": database.get("arrival"),
        "index_usage": {n: t["index_usage"] for n, t in database["database"]["tables"].items()},
        "cache_hit": database["database"]["cache_hit"],
        "top_statements": database["database"]["top_statements"],
        "pool": through_platform["database"]["pool"],
        "platform_requests": {
            r["name"]: {k: r[k] for k in ("requests", "failures", "rps", "avg_ms")}
            for r in through_platform["requests"]
        },  # fmt: skip
        "exit_codes": codes,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
