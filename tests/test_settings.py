"""One source of truth per setting: option defaults are the settings' defaults, and the
environment sits between the command line and --config files, as Locust's parser orders them."""

from __future__ import annotations

import dataclasses

import pytest
from locust.argument_parser import get_parser

import obstack_load.results.plugin  # noqa: F401  (registers the --results-* options)
from obstack_load.cli import build_parser
from obstack_load.platform.settings import PlatformSettings
from obstack_load.users.ingest_options import IngestSettings, settings_from


def test_otlp_option_defaults_parse_back_to_the_settings_defaults():
    options = get_parser().parse_args(args=[])
    assert settings_from(options) == IngestSettings()


def test_platform_options_are_the_platform_settings_fields():
    args = build_parser().parse_args(["platform"])
    exposed = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(PlatformSettings)
        if f.metadata.get("option")
    }
    assert PlatformSettings(**exposed) == PlatformSettings()
    changed = build_parser().parse_args(["platform", "--token-ttl", "5", "--max-series", "7"])
    assert (changed.token_ttl_seconds, changed.max_series_per_tenant) == (5.0, 7)


@pytest.mark.parametrize(
    ("command_line", "env", "config", "expected"),
    [
        ([], {}, "", "64"),
        ([], {}, "otlp-pool-size = 3", "3"),
        ([], {"OBSTACK_OTLP_POOL_SIZE": "5"}, "otlp-pool-size = 3", "5"),
        (["--otlp-pool-size", "9"], {"OBSTACK_OTLP_POOL_SIZE": "5"}, "otlp-pool-size = 3", "9"),
    ],
)
def test_precedence_is_command_line_then_environment_then_config(
    tmp_path, command_line, env, config, expected
):
    conf = tmp_path / "run.conf"
    conf.write_text(config + "\n")
    parser = get_parser()
    options = parser.parse_args(args=["--config", str(conf), *command_line], env_vars=env)
    assert options.otlp_pool_size == expected


def test_a_repeatable_option_takes_a_json_list_from_its_variable():
    options = get_parser().parse_args(
        args=[], env_vars={"OBSTACK_RUN_TAGS": '["team=sre", "release=2.3"]'}
    )
    assert options.run_tag == ["team=sre", "release=2.3"]
