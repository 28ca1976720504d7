"""Load shapes from options, and every profile in config/ parsed and validated."""

from __future__ import annotations

import glob
from pathlib import Path
from types import SimpleNamespace

import pytest

from obstack_load.core.config import ConfigError
from obstack_load.plugins.profiles import check_profile
from obstack_load.run.shapes import ProfileShape, Stage, parse_stages, stages_for


def test_stages_parse_with_default_and_explicit_rates():
    # without a rate, a stage ramps to its target over its duration (at least 1 user/s)
    assert parse_stages("2m:100,5m:100:20,1m:0") == [
        Stage(120, 100, 1.0),
        Stage(300, 100, 20.0),
        Stage(60, 0, 100 / 60),
    ]


@pytest.mark.parametrize("text", ["2m", "x:10", "1m:ten", "1m:-5", "", "0s:10"])
def test_bad_stages_name_the_option(text):
    with pytest.raises(ConfigError) as caught:
        parse_stages(text)
    assert caught.value.source == "--stages"


def options(**kw):
    base = dict(load_shape="constant", stages="", step_users=100, step_every="1m", step_max=300, spike_base=10,
                spike_peak=100, spike_at="30s", spike_hold="10s", spike_recovery="20s", run_time=None, num_users=7, spawn_rate=3)  # fmt: skip
    return SimpleNamespace(**{**base, **kw})


def test_step_and_spike_compile_to_stages():
    assert [s.target for s in stages_for(options(load_shape="step"))] == [100, 200, 300]
    spike = stages_for(options(load_shape="spike"))
    assert [(s.duration, s.target) for s in spike] == [(30, 10), (10, 100), (20, 10)]
    assert spike[1].spawn_rate == 18.0  # 90 users within 5 s
    assert stages_for(options()) is None


def drive(shape_options, times):
    shape = ProfileShape()
    shape.runner = SimpleNamespace(environment=SimpleNamespace(parsed_options=shape_options))
    out = []
    for t in times:
        shape.get_run_time = lambda t=t: t  # the shape's clock, frozen at t
        out.append(shape.tick())
    return out


def test_shape_walks_stages_then_stops_and_honours_run_time():
    stages = options(load_shape="stages", stages="10s:5:5,20s:50:10")
    assert drive(stages, [0, 9.9, 10, 29.9, 30]) == [(5, 5), (5, 5), (50, 10), (50, 10), None]
    constant = options(run_time=60)
    assert drive(constant, [0, 59, 60]) == [(7, 3), (7, 3), None]
    assert drive(options(load_shape="stages", stages="1h:5", run_time=10), [5, 10]) == [
        (5, 1.0),
        None,
    ]


REPO = Path(__file__).resolve().parent.parent
PROFILES = sorted(glob.glob(str(REPO / "config" / "*.conf")))


def test_the_profiles_are_found_from_any_directory():
    assert len(PROFILES) >= 9, PROFILES


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_parses_and_validates(profile, monkeypatch):
    monkeypatch.chdir(
        REPO
    )  # a profile's paths are the repository's, as `locust --config` reads them
    check = check_profile(profile)
    assert check.user_classes
    assert check.thresholds, "every profile gates on SLOs"
    assert check.stages or check.run_time


def test_profile_checker_reports_bad_values(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text(
        "locustfile = locustfiles/smoke.py\nheadless = true\nload-shape = stages\nstages = 1m:lots\n"
    )
    with pytest.raises(ConfigError, match="stage 1"):
        check_profile(bad)
    bad.write_text("locustfile = locustfiles/nope.py\n")
    with pytest.raises(ConfigError, match="does not exist"):
        check_profile(bad)
    bad.write_text("locustfile = locustfiles/ingest.py\nrun-time = 1m\notlp-churn = fast\n")
    with pytest.raises(
        ConfigError, match=f"{bad} or the command line: otlp-churn: 'fast' is not a number"
    ):
        check_profile(bad)
