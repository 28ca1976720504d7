"""Load shapes driven by options, so that profiles in config/ choose them without code.

``ProfileShape`` is a Locust ``LoadTestShape``; every locustfile imports it. Its ``--load-shape``:

* ``constant`` (default): ``--users`` at ``--spawn-rate`` until ``--run-time``, as plain Locust;
* ``stages``: k6-style ``--stages "2m:100,5m:100,2m:0"`` (duration:target[:spawn rate]);
* ``step``: add ``--step-users`` every ``--step-every`` up to ``--step-max`` (breaking-point hunts);
* ``spike``: ``--spike-base`` users, jumping to ``--spike-peak`` at ``--spike-at`` for ``--spike-hold``.

Step and spike compile into stages, so there is one way a shape advances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from locust import LoadTestShape, events

from obstack_load.core.config import ConfigError, parse_duration
from obstack_load.run.options import add_option, validator

SHAPES = ("constant", "stages", "step", "spike")


@dataclass(frozen=True)
class Stage:
    duration: float  # seconds
    target: int
    spawn_rate: float


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(
        parser,
        "--load-shape",
        choices=SHAPES,
        default="constant",
        help="how users change over time (default constant)",
    )
    add_option(
        parser,
        "--stages",
        default="",
        help='stages shape: "30s:100,5m:100,30s:0" (duration:target[:spawn rate])',
    )
    add_option(
        parser, "--step-users", type=int, default=100, help="step shape: users added per step"
    )
    add_option(parser, "--step-every", default="1m", help="step shape: duration of each step")
    add_option(
        parser, "--step-max", type=int, default=2000, help="step shape: users of the last step"
    )
    add_option(
        parser, "--spike-base", type=int, default=50, help="spike shape: users before and after"
    )
    add_option(
        parser, "--spike-peak", type=int, default=1000, help="spike shape: users during the spike"
    )
    add_option(parser, "--spike-at", default="1m", help="spike shape: when the spike starts")
    add_option(parser, "--spike-hold", default="1m", help="spike shape: how long it lasts")
    add_option(
        parser, "--spike-recovery", default="2m", help="spike shape: time at base after the spike"
    )


def _duration(option: str, value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"--{option}", "", str(exc)) from None
    if seconds <= 0:
        raise ConfigError(f"--{option}", "", f"must be longer than 0, got {value!r}")
    return seconds


def parse_stages(text: str, start_users: int = 0) -> list[Stage]:
    stages = []
    previous = start_users
    for index, part in enumerate(p.strip() for p in text.split(",") if p.strip()):
        fields = part.split(":")
        if len(fields) not in (2, 3):
            raise ConfigError(
                "--stages", f"stage {index + 1}", f"{part!r} is not duration:target[:spawn rate]"
            )
        duration = _duration("stages", fields[0])
        try:
            target = int(fields[1])
            rate = (
                float(fields[2])
                if len(fields) == 3
                else max(abs(target - previous) / duration, 1.0)
            )
        except ValueError:
            raise ConfigError(
                "--stages", f"stage {index + 1}", f"{part!r}: target and rate must be numbers"
            ) from None
        if target < 0 or rate <= 0:
            raise ConfigError(
                "--stages", f"stage {index + 1}", f"{part!r}: target must be >= 0 and rate > 0"
            )
        stages.append(Stage(duration, target, rate))
        previous = target
    if not stages:
        raise ConfigError("--stages", "", "no stages given; e.g. 30s:100,5m:100,30s:0")
    return stages


def stages_for(options: Any) -> list[Stage] | None:
    """The stages the options describe, or None for the constant shape."""
    shape = getattr(options, "load_shape", "constant")
    if shape == "stages":
        return parse_stages(options.stages)
    if shape == "step":
        every = _duration("step-every", options.step_every)
        if options.step_users <= 0 or options.step_max < options.step_users:
            raise ConfigError("--step-users", "", "must be > 0 and at most --step-max")
        steps = range(options.step_users, options.step_max + 1, options.step_users)
        return [
            Stage(every, users, max(options.step_users / min(every, 10.0), 1.0)) for users in steps
        ]
    if shape == "spike":
        at = _duration("spike-at", options.spike_at)
        hold = _duration("spike-hold", options.spike_hold)
        recovery = _duration("spike-recovery", options.spike_recovery)
        base, peak = options.spike_base, options.spike_peak
        burst = (
            max(peak - base, 1) / 5.0
        )  # reach the peak within 5 s: that is what makes it a spike
        return [
            Stage(at, base, max(base, 1)),
            Stage(hold, peak, burst),
            Stage(recovery, base, burst),
        ]
    return None


class ProfileShape(LoadTestShape):
    """The shape named by ``--load-shape``; with ``constant`` it behaves as plain Locust."""

    use_common_options = True  # keep users, spawn rate and run time in the web UI form

    def __init__(self) -> None:
        super().__init__()
        self._stages: list[Stage] | None = None
        self._for_options: Any = None

    def stages(self) -> list[Stage] | None:
        options = self.runner.environment.parsed_options if self.runner else None
        if options is not self._for_options:  # options change when a run starts from the web UI
            self._stages = stages_for(options) if options is not None else None
            self._for_options = options
        return self._stages

    def tick(self) -> tuple[int, float] | None:
        stages = self.stages()
        options = self.runner.environment.parsed_options
        elapsed = self.get_run_time()
        # Locust does not enforce --run-time when a shape is in use, so the shape does
        if options.run_time and elapsed >= options.run_time:
            return None
        if stages is None:
            return options.num_users or 1, options.spawn_rate or 1
        for stage in stages:
            if elapsed < stage.duration:
                return stage.target, stage.spawn_rate
            elapsed -= stage.duration
        return None  # the last stage is over: the run ends


@validator
def _check_shape(options) -> None:
    """A bad shape is a one-line error before any user starts."""
    stages_for(options)


@events.init.add_listener
def _plain_when_constant(environment, **kwargs: Any) -> None:
    """A headless run with the constant shape is plain Locust: no shape at all (so no "Shape
    test starting", and Locust's own --run-time). The web UI keeps the shape, so that a start
    from its form can still pick stages, step or spike."""
    options = environment.parsed_options
    if options is not None and options.headless and options.load_shape == "constant":
        environment.shape_class = None
