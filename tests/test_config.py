"""Config file loading, validation, overrides and saving."""

from __future__ import annotations

import pytest

from patchloop.core.config import ConfigError, apply_overrides, load_config, save_config


def test_missing_file_gives_defaults(tmp_path):
    config = load_config(tmp_path / "none.toml")
    assert (config.model.name, config.loop.t_max, config.loop.analyzers, config.loop.threshold) == (
        "embedded", 3, "all", "note")


def test_file_values_then_cli_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[loop]\nt_max = 5\nskip = ["B101"]\nanalyzer_timeout = 30\n[model]\nname = "x/y"\n'
                    '[keys]\nsend = "ctrl+s"\n[future]\nkeep = 1\n')
    config = load_config(path)
    assert config.loop.t_max == 5 and config.loop.skip == ["B101"] and config.model.name == "x/y"
    assert config.loop.analyzer_timeout == 30.0 and config.keys == {"send": "ctrl+s"}
    apply_overrides(config, t_max=1, threshold=None, model__name="embedded")
    assert config.loop.t_max == 1 and config.loop.threshold == "note" and config.model.name == "embedded"
    save_config(config)
    again = load_config(path)
    assert again.loop.t_max == 1 and again.extra == {"future": {"keep": 1}} and again.keys == {"send": "ctrl+s"}


@pytest.mark.parametrize("text, message", [
    ("[loop]\nthreshold = 'loud'\n", "threshold"),
    ("[loop]\nanalyzers = 'svace'\n", "analyzers"),
    ("[loop]\nt_max = 'three'\n", "must be int"),
    ("[loop]\ntmax = 3\n", "unknown key"),
    ("[loop\n", "cannot parse"),
])
def test_bad_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_bad_override_is_rejected(tmp_path):
    with pytest.raises(ConfigError):
        apply_overrides(load_config(tmp_path / "n.toml"), threshold="loud")
