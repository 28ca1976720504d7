"""The capacity search's HTML report: the finding in words, the latency against offered load
(the hockey stick) with the knee and the capacity marked, throughput against offered load, and
every step. One self-contained file, like the run report (same template set, same charts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from obstack_load.analysis.charts import Chart, Line, svg
from obstack_load.analysis.report import TEMPLATES


def charts(capacity: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, inline SVG) per chart."""
    if not capacity["steps"]:
        return []
    latency, throughput = latency_chart(capacity), throughput_chart(capacity)
    return [("Latency against offered load", svg(latency)),
            ("Throughput against offered load", svg(throughput))]  # fmt: skip


def latency_chart(capacity: dict[str, Any]) -> Chart:
    """The hockey stick: p95 against offered load, the capacity and the knee marked."""
    steps = sorted(capacity["steps"], key=lambda s: s["offered_rate"])
    finding = capacity["finding"]
    rates = [s["offered_rate"] for s in steps]
    marks = []
    if finding["capacity"] is not None:
        marks.append((finding["capacity"], f"capacity {finding['capacity']:,.0f}/s"))
    if finding["knee"] is not None:
        if marks and abs(finding["knee"] - marks[0][0]) <= 0.01 * marks[0][0]:
            marks[0] = (marks[0][0], f"capacity and knee {marks[0][0]:,.0f}/s")  # one label
        else:
            marks.append((finding["knee"], f"knee {finding['knee']:,.0f}/s"))
    latency = Chart(
        "p95 latency against offered load (corrected for coordinated omission)", "p95, ms",
        [Line("p95", rates, [s["p95_ms"] for s in steps], style="o-")],
        time_axis=False, marks=marks, x_label="offered rate, iterations/s",
    )  # fmt: skip
    endpoints = sorted({name for s in steps for name in s["endpoints_p95_ms"]})
    if 1 < len(endpoints) <= 8:
        for name in endpoints:
            latency.lines.append(
                Line(name, rates, [s["endpoints_p95_ms"].get(name) for s in steps], style=".--")
            )
    return latency


def throughput_chart(capacity: dict[str, Any]) -> Chart:
    steps = sorted(capacity["steps"], key=lambda s: s["offered_rate"])
    rates = [s["offered_rate"] for s in steps]
    return Chart(
        "Throughput and saturation against offered load", "per second",
        [Line("iterations/s run", rates, [s["iterations_per_s"] for s in steps], style="o-"),
         Line("requests/s", rates, [s["achieved_rps"] for s in steps], style="x-"),
         Line("offered", rates, rates, style=":"),
         Line("generator CPU", rates, [s["generator_cpu"] for s in steps], True, "s--"),
         Line("target CPU", rates, [s["target_cpu"] for s in steps], True, "^--")],
        right_label="CPU, share of one core", time_axis=False, x_label="offered rate, iterations/s",
    )  # fmt: skip


def render(capacity: dict[str, Any], host: str) -> str:
    return TEMPLATES.get_template("capacity.html.j2").render(
        capacity=capacity, host=host, charts=charts(capacity),
        steps=sorted(capacity["steps"], key=lambda s: s["offered_rate"]),
    )  # fmt: skip


def write_report(path: str, capacity: dict[str, Any], host: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(capacity, host), encoding="utf-8")
