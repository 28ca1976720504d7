"""Capacity of the reference platform on one core, driven by wrk on the other.

The platform process is pinned to one CPU and wrk to another, so the figures are the platform's
requests/s and items/s per core: what later benchmarks compare against to tell whether the
target, rather than the generator, is the bottleneck.

    python benchmarks/platform_capacity.py [--duration 10] [--connections 32]

Needs wrk (Debian package ``wrk``) and ``taskset``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from obstack_load.telemetry import builders, otlp  # noqa: E402
from obstack_load.tenants import load_population  # noqa: E402
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
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit(
            "benchmarks/platform_capacity.py: wrk is not installed (apt-get install wrk)"
        )

    population = load_population()
    tenant = population.tenants[0]
    rng = random.Random(1)
    bodies = {
        "logs": builders.logs_request(tenant, rng, args.batch),
        "metrics": builders.metrics_request(tenant, rng, max(1, args.batch // 3)),
        "traces": builders.traces_request(tenant, rng, args.batch // 10),
    }
    platform = start_platform("--max-traces", "5000")
    subprocess.run(
        ["taskset", "-pc", args.platform_cpu, str(platform.process.pid)],
        check=True,
        capture_output=True,
    )
    results = {}
    try:
        token = platform.token_for(population, 0, "viewer")
        for signal, message in bodies.items():
            items = otlp.count_items(signal, message)
            headers = {"Content-Type": otlp.PROTOBUF, "X-API-Key": tenant.api_key}
            placeholder = b""
            if signal == "traces":
                # uncompressed, so wrk can give every request its own trace id (see WRK_SCRIPT)
                message = builders.traces_request(tenant, rng, 10, trace_id=TRACE_PLACEHOLDER)
                items, placeholder = 10, TRACE_PLACEHOLDER
                body = otlp.encode(message)
            else:
                body = otlp.compress(otlp.encode(message))
                headers["Content-Encoding"] = "gzip"
            before = platform.get("/api/v1/usage", token).json()["signals"][signal]
            result = wrk(
                f"{platform.url}{otlp.SIGNALS[signal].path}", "POST", headers, body,
                args.duration, args.connections, args.wrk_cpu, placeholder,
            )  # fmt: skip
            after = platform.get("/api/v1/usage", token).json()["signals"][signal]
            rejected = after["rejected"] - before["rejected"]
            if rejected:
                raise SystemExit(
                    f"{signal}: the platform rejected {rejected} items; the figure would be wrong"
                )
            accepted = after["accepted"] - before["accepted"]
            result.update(
                items_per_request=items, accepted_items=accepted,
                items_per_s=round(result["rps"] * items), body_bytes=len(body),
            )  # fmt: skip
            results[
                f"otlp {signal} ({'protobuf' if placeholder else 'protobuf+gzip'}, {items}/req)"
            ] = result
        dashboards = platform.get("/api/v1/dashboards", token).json()["dashboards"]
        api = {
            "GET /api/v1/dashboards": "/api/v1/dashboards",
            "GET /api/v1/dashboards/[id]": f"/api/v1/dashboards/{dashboards[0]['id']}",
            "GET /api/v1/logs/search (limit 20)": "/api/v1/logs/search?limit=20&range=15m",
            "GET /api/v1/metrics/query (1h)": "/api/v1/metrics/query?name=system.cpu.utilization&range=1h",
        }
        for label, path in api.items():
            headers = {"Authorization": f"Bearer {token}"}
            results[label] = wrk(
                f"{platform.url}{path}",
                "GET",
                headers,
                b"",
                args.duration,
                args.connections,
                args.wrk_cpu,
            )
    finally:
        platform.stop()
    print(json.dumps(results, indent=2))
    print()
    print("| endpoint | requests/s | items/s | non-2xx |")
    print("| --- | ---: | ---: | ---: |")
    for label, result in results.items():
        items = result.get("items_per_s", "")
        print(
            f"| {label} | {result['rps']:,.0f} | {items if items == '' else f'{items:,}'} | {result['non_2xx']} |"
        )


if __name__ == "__main__":
    main()
