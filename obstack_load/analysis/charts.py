"""Charts for reports, the dashboard and the emailed report: one library, matplotlib.

Why matplotlib: it draws SVG (inline in a self-contained HTML file, text as paths, so nothing is
fetched) and PNG (for e-mail, which cannot show SVG) without a browser or a JavaScript runtime,
and it is a plain wheel that pins nothing. Altair needs ``vl-convert-python``, a 60 MB embedded
Deno, to render without a browser.
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # no display: files only, before pyplot is imported

import matplotlib.dates as mdates  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

matplotlib.rcParams["svg.fonttype"] = "path"  # text drawn as paths: no font to fetch
matplotlib.rcParams["svg.hashsalt"] = "obstack-load"  # stable ids: the same data, the same file


@dataclass
class Line:
    label: str
    x: Sequence[float]  # unix seconds, or run numbers with ``time_axis=False``
    y: Sequence[float | None]
    right_axis: bool = False
    style: str = "-"


@dataclass
class Chart:
    title: str
    y_label: str
    lines: list[Line] = field(default_factory=list)
    right_label: str = ""
    time_axis: bool = True
    marks: list[tuple[float, str]] = field(default_factory=list)  # vertical lines, labelled
    log_y: bool = False
    x_label: str = ""

    @property
    def empty(self) -> bool:
        return not any(any(v is not None for v in line.y) for line in self.lines)


def render(chart: Chart, fmt: str = "svg", width: float = 8.0, height: float = 2.8) -> bytes:
    """The chart as SVG or PNG bytes. A Figure, not pyplot: no global state between charts."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    right = axes.twinx() if any(line.right_axis for line in chart.lines) else None
    for line in chart.lines:
        target = right if line.right_axis and right is not None else axes
        x = [_when(v) for v in line.x] if chart.time_axis else list(line.x)
        y = [float("nan") if v is None else v for v in line.y]
        target.plot(x, y, line.style, label=line.label, linewidth=1.4, markersize=3)
    for x, text in chart.marks:
        at = _when(x) if chart.time_axis else x
        axes.axvline(at, color="#c0392b", linestyle="--", linewidth=1)
        axes.annotate(text, (at, 1), xycoords=("data", "axes fraction"), fontsize=7,
                      color="#c0392b", rotation=90, va="top", ha="right")  # fmt: skip
    axes.set_title(chart.title, fontsize=10, loc="left")
    axes.set_ylabel(chart.y_label, fontsize=8)
    if chart.x_label:
        axes.set_xlabel(chart.x_label, fontsize=8)
    if chart.log_y:
        axes.set_yscale("log")
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    if chart.time_axis:
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    handles, labels = axes.get_legend_handles_labels()
    if right is not None:
        right.set_ylabel(chart.right_label, fontsize=8)
        right.tick_params(labelsize=7)
        more_handles, more_labels = right.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    if handles:
        axes.legend(handles, labels, fontsize=7, loc="upper left", framealpha=0.7)
    out = io.BytesIO()
    figure.savefig(out, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return out.getvalue()


def svg(chart: Chart) -> str:
    """Inline SVG for an HTML page, without the XML prolog."""
    text = render(chart, "svg").decode()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)  # RDF boilerplate
    return text[text.index("<svg") :]


def _when(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC)
