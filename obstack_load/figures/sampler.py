"""The target's CPU and memory over a run, for the report's target chart: the master (or the
standalone process) reads them through the run's source of target figures (``figures/seam.py``)
every ``SAMPLE_S`` and records them beside the generator's own processes in ``system_metrics``
(role ``target``). A target whose source has neither figure is sampled once, said n/a once, and
left alone; the summary says where the figures came from and which were n/a."""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust.runners import WorkerRunner

from obstack_load.figures import target
from obstack_load.figures.seam import source_of
from obstack_load.results.schema import SYSTEM_METRICS
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join, watch
from obstack_load.run.events import suite

SAMPLE_S = 2.0
SAMPLED = ("cpu_seconds", "memory_bytes")


class TargetSamples:
    """One run's samples of the target: (unix time, CPU in cores or None, memory or None)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float | None, float | None]] = []
        self.source: str | None = None
        self.missing: list[str] = list(SAMPLED)
        self.greenlet: gevent.Greenlet | None = None

    def run(self, source: target.Source) -> None:
        last = source.read(SAMPLED)
        self.missing = [name for name in SAMPLED if name not in last.values]
        if len(self.missing) == len(SAMPLED):
            return  # n/a, said once by the source
        while True:
            gevent.sleep(SAMPLE_S)
            reading = source.read(SAMPLED)
            cpu = target.change(last, reading, "cpu_seconds")
            seconds = reading.at - last.at
            self.samples.append((time.time(), cpu / seconds if cpu is not None and seconds > 0
                                 else None, reading.values.get("memory_bytes")))  # fmt: skip
            last = reading

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=True, timeout=5)
            self.greenlet = None


@join("start")
def start(environment, run: RunContext) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    source = source_of(environment)
    if source is not None:
        samples = run.slot(TargetSamples)
        samples.source = source.description
        samples.greenlet = watch(run, "target figures", gevent.spawn(samples.run, source))


@join("stop")
def stop(environment, run: RunContext) -> None:
    samples = run.get(TargetSamples)
    if samples is not None:
        samples.stop()


@suite.rows_recording.add_listener
def _rows(environment, run_id: str, rows: dict, **kwargs: Any) -> None:
    samples = run_of(environment).get(TargetSamples)
    if samples is None or not samples.samples:
        return
    rows.setdefault(SYSTEM_METRICS, []).extend(
        (run_id, at, "target", "target", None if cpu is None else cpu * 100,
         None if memory is None else int(memory), None)
        for at, cpu, memory in samples.samples
    )  # fmt: skip


@suite.summary_assembling.add_listener
def _summary(environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    samples = run_of(environment).get(TargetSamples)
    if samples is None or samples.source is None:
        return
    summary["target_figures"] = {"source": samples.source, "na": samples.missing,
                                 "samples": len(samples.samples)}  # fmt: skip
    na = f"; n/a: {', '.join(samples.missing)}" if samples.missing else ""
    lines.append(f"  target figures: {samples.source}{na}")
