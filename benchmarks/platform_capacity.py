"""Capacity of the reference platform on one core, driven by wrk on the other.

The platform process is pinned to one CPU and wrk to another, so the figures are the platform's
requests/s and items/s per core: what later benchmarks compare against to tell whether the
target, rather than the generator, is the bottleneck.

Platforms run side by side on the same core, measured in turn per endpoint (``--variants``):

- ``memory``: the platform as ``obstack-load platform`` starts it, records in memory;
- ``postgresql``: the same with ``--db`` on a PostgreSQL started here, pinned to the platform's
  core too, so the figure is what one core holds for the platform and its database together;
- ``gevent-patched``: ``locust`` imported first, so gevent's monkey patch is applied, as every
  platform started before the seams issue was.

    python benchmarks/platform_capacity.py [--variants memory,postgresql] [--duration 10]
        [--connections 32] [--rounds 2]

Needs wrk (Debian package ``wrk``) and ``taskset``; ``postgresql`` needs PostgreSQL's server.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from obstack_load.core.tenants import load_population  # noqa: E402
from obstack_load.telemetry import logs, metrics, otlp, traces  # noqa: E402
from tests.support import start_platform  # noqa: E402

WRK_SCRIPT = """
local f = io.open("{body}", "rb")
wrk.body = f:read("*all")
f:close()
wrk.method = "{method}"
{headers}
local placeholder = "{placeholder}"
if placeholder ~= "" then
  -- a fresh trace id per request, as real traffic has: swap the placeholder for random bytes
  local chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
  request = function()
    local id = {{}}
    for i = 1, 16 do
      local n = math.random(1, #chars)
      id[i] = chars:sub(n, n)
    end
    local body = wrk.body:gsub(placeholder, table.concat(id))
    return wrk.format(nil, nil, nil, body)
  end
end
"""
TRACE_PLACEHOLDER = b"TRACEIDPLACEHOLD"
PATCHED_LAUNCHER = (
    "-c",
    "import locust, sys; from obstack_load.cli import main; sys.exit(main())",
)


def wrk(
    url: str,
    method: str,
    headers: dict[str, str],
    body: bytes,
    duration: int,
    connections: int,
    cpu: str,
    placeholder: bytes = b"",
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body.bin"
        body_file.write_bytes(body)
        lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
        script = Path(tmp) / "request.lua"
        script.write_text(
            WRK_SCRIPT.format(
                body=body_file, method=method, headers=lines, placeholder=placeholder.decode()
            )
        )
        out = subprocess.run(
            ["taskset", "-c", cpu, "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100, help="items per OTLP request")
    parser.add_argument("--platform-cpu", default="0")
    parser.add_argument("--wrk-cpu", default="1")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each variant per endpoint")
    parser.add_argument(
        "--variants", default="memory,postgresql",
        help="comma-separated, the first the base of the ratios: memory, postgresql, gevent-patched",
    )  # fmt: skip
    args = parser.parse_args()
    variants = args.variants.split(",")
    if not shutil.which("wrk"):
        raise SystemExit(
            "benchmarks/platform_capacity.py: wrk is not installed (apt-get install wrk)"
        )

    population = load_population()
    tenant = population.tenants[0]
    rng = random.Random(1)
    bodies = {
        "logs": logs.logs_request(tenant, rng, args.batch),
        "metrics": metrics.metrics_request(tenant, rng, args.batch),
        "traces": traces.traces_request(tenant, rng, args.batch // 10),
    }
    database = None
    platforms = {}
    for variant in variants:
        if variant == "memory":
            platforms[variant] = start_platform("--max-traces", "5000")
        elif variant == "gevent-patched":
            # what the figures before the seams issue measured: gevent patched the process
            platforms[variant] = start_platform("--max-traces", "5000", launcher=PATCHED_LAUNCHER)
        elif variant == "postgresql":
            from tests.postgres import start_postgres

            database = start_postgres()
            postmaster = (database.datadir / "postmaster.pid").read_text().split()[0]
            subprocess.run(["taskset", "-apc", args.platform_cpu, postmaster], check=True,
                           capture_output=True)  # fmt: skip
            platforms[variant] = start_platform(
                "--max-traces", "5000", "--db", database.database("capacity")
            )
        else:
            raise SystemExit(f"--variants: unknown variant {variant!r}")
    for platform in platforms.values():
        subprocess.run(
            ["taskset", "-pc", args.platform_cpu, str(platform.process.pid)],
            check=True,
            capture_output=True,
        )
    results: dict[str, dict[str, list[dict]]] = {}
    try:
        for label, run in endpoints(args, population, tenant, rng, bodies, platforms):
            for _ in range(args.rounds):
                for variant, platform in platforms.items():
                    results.setdefault(label, {}).setdefault(variant, []).append(run(platform))
    finally:
        for platform in platforms.values():
            platform.stop()
        if database is not None:
            database.stop("fast")
    print(json.dumps(results, indent=2))
    print()
    base, others = variants[0], variants[1:]
    print(
        f"| endpoint | requests/s, {base} | "
        + "".join(f"requests/s, {v} | ratio to {base} | items/s, {v} | " for v in others)
        + "non-2xx |"
    )
    print("| --- | ---: |" + " ---: | ---: | ---: |" * len(others) + " ---: |")
    for label, measured in results.items():
        rps = {v: statistics.median(r["rps"] for r in measured[v]) for v in variants}
        items = measured[base][0].get("items_per_request")
        bad = sum(r["non_2xx"] for rs in measured.values() for r in rs)
        cells = "".join(
            f"{rps[v]:,.0f} | {rps[v] / rps[base]:.3f} | "
            f"{'' if items is None else f'{rps[v] * items:,.0f}'} | "
            for v in others
        )
        print(f"| {label} | {rps[base]:,.0f} | {cells}{bad} |")


def endpoints(args, population, tenant, rng, bodies, platforms):
    """(label, run) per endpoint; ``run(platform)`` measures it once with wrk."""
    tokens = {id(p): p.token_for(population, 0, "viewer") for p in platforms.values()}
    for signal, message in bodies.items():
        items = otlp.count_items(signal, message)
        headers = {"Content-Type": otlp.PROTOBUF, "X-API-Key": tenant.api_key}
        placeholder = b""
        if signal == "traces":
            # uncompressed, so wrk can give every request its own trace id (see WRK_SCRIPT)
            message = traces.traces_request(tenant, rng, 10, trace_id=TRACE_PLACEHOLDER)
            items, placeholder = 10, TRACE_PLACEHOLDER
            body = otlp.encode(message)
        else:
            body = otlp.compress(otlp.encode(message))
            headers["Content-Encoding"] = "gzip"

        def run(
            platform,
            signal=signal,
            headers=headers,
            body=body,
            items=items,
            placeholder=placeholder,
        ):
            token = tokens[id(platform)]
            before = platform.get("/api/v1/usage", token).json()["signals"][signal]
            result = wrk(
                f"{platform.url}{otlp.SIGNALS[signal].path}", "POST", headers, body,
                args.duration, args.connections, args.wrk_cpu, placeholder,
            )  # fmt: skip
            after = platform.get("/api/v1/usage", token).json()["signals"][signal]
            if after["rejected"] - before["rejected"]:
                raise SystemExit(
                    f"{signal}: the platform rejected items; the figure would be wrong"
                )
            result.update(
                items_per_request=items, accepted_items=after["accepted"] - before["accepted"],
                body_bytes=len(body),
            )  # fmt: skip
            return result

        yield f"otlp {signal} ({'protobuf' if placeholder else 'protobuf+gzip'}, {items}/req)", run
    api = {
        "GET /api/v1/dashboards": lambda p, t: "/api/v1/dashboards",
        "GET /api/v1/dashboards/[id]": lambda p, t: (
            "/api/v1/dashboards/" + p.get("/api/v1/dashboards", t).json()["dashboards"][0]["id"]
        ),
        "GET /api/v1/logs/search (limit 20)": lambda p, t: "/api/v1/logs/search?limit=20&range=15m",
        "GET /api/v1/metrics/query (1h)": lambda p, t: (
            "/api/v1/metrics/query?name=system.cpu.utilization&range=1h"
        ),
    }
    for label, path_of in api.items():

        def run(platform, path_of=path_of):
            token = tokens[id(platform)]
            headers = {"Authorization": f"Bearer {token}"}
            path = path_of(platform, token)
            return wrk(
                f"{platform.url}{path}",
                "GET",
                headers,
                b"",
                args.duration,
                args.connections,
                args.wrk_cpu,
            )

        yield label, run


if __name__ == "__main__":
    main()
