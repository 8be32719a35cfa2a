"""Config file loading, validation, overrides and saving."""

from __future__ import annotations

import math

import pytest
from patchloop.core.config import (
    CLI,
    DEFAULT,
    ENV_ALIASES,
    ENVIRONMENT,
    FILE,
    RULES,
    SETTINGS,
    ConfigError,
    ConfigNotFound,
    apply_env,
    apply_overrides,
    load_config,
    parse_value,
)
from patchloop.core.config_edit import save_config, set_value, unset_value


def test_missing_file_gives_defaults(tmp_path):
    config = load_config(tmp_path / "none.toml")
    assert (config.model.name, config.loop.t_max, config.loop.analyzers, config.loop.threshold) == (
        "embedded",
        3,
        "all",
        "note",
    )


def test_file_values_then_cli_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[loop]\nt_max = 5\nskip = ["B101"]\nanalyzer_timeout = 30\n[model]\nname = "x/y"\n'
        '[keys]\nsend = "ctrl+s"\n[future]\nkeep = 1\n'
    )
    config = load_config(path)
    assert config.loop.t_max == 5 and config.loop.skip == ["B101"] and config.model.name == "x/y"
    assert config.loop.analyzer_timeout == 30.0 and config.keys == {"send": "ctrl+s"}
    apply_overrides(config, t_max=1, threshold=None, model__name="embedded")
    assert config.loop.t_max == 1 and config.loop.threshold == "note" and config.model.name == "embedded"
    assert config.source("loop.t_max") == (CLI, "") and config.source("loop.threshold") == (DEFAULT, "")
    config.loop.candidates = 2  # changed in the app's settings screen: that is saved
    save_config(config)
    again = load_config(path)
    # A flag is for one process: saving leaves the file's t_max and name alone.
    assert again.loop.t_max == 5 and again.model.name == "x/y" and again.loop.candidates == 2
    assert again.extra == {"future": {"keep": 1}} and again.keys == {"send": "ctrl+s"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("[loop]\nthreshold = 'loud'\n", "threshold"),
        ("[loop]\nanalyzers = 'svace'\n", "analyzers"),
        ("[loop]\nt_max = 'three'\n", "must be int"),
        ("[loop]\ntmax = 3\n", "unknown key"),
        ("[loop\n", "cannot parse"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_bad_override_is_rejected(tmp_path):
    with pytest.raises(ConfigError):
        apply_overrides(load_config(tmp_path / "n.toml"), threshold="loud")


# -- range checks ------------------------------------------------------------------------------------


def test_every_numeric_and_enumerated_key_has_a_range_rule():
    numeric = {key for key, s in SETTINGS.items() if s.type in (int, float)}
    enumerated = {"model.device", "model.engine", "loop.analyzers", "loop.threshold", "loop.feedback"}
    assert numeric | enumerated <= set(RULES)
    assert set(RULES) <= set(SETTINGS)


@pytest.mark.parametrize(
    "key, value",
    [
        ("model.name", "  "),
        ("model.device", "gpu"),
        ("model.engine", "vllm"),
        ("model.base_url", "localhost:8000"),
        ("model.api_key_env", "MY KEY"),
        ("model.timeout", 0.0),
        ("model.timeout", 1e9),
        ("model.max_new_tokens", 0),
        ("model.max_new_tokens", 10**6),
        ("model.temperature", 2.5),
        ("model.temperature", -0.1),
        ("model.top_p", 0.0),
        ("model.top_p", 1.5),
        ("model.seed", -2),
        ("model.seed", 2**40),
        ("loop.t_max", -1),
        ("loop.t_max", 51),
        ("loop.analyzers", "svace"),
        ("loop.threshold", "loud"),
        ("loop.skip", ["B101", ""]),
        ("loop.analyzer_timeout", 0.0),
        ("loop.analyzer_timeout", 7200.0),
        ("loop.analyzer_timeout", math.inf),
        ("loop.feedback", "long"),
        ("loop.candidates", 17),
        ("loop.candidate_min_temperature", 0.0),
        ("loop.candidate_max_temperature", 3.0),
        ("model.temperature", math.nan),
    ],
)
def test_out_of_range_values_are_one_line_errors_naming_key_and_file(tmp_path, key, value):
    import tomlkit

    section, name = key.split(".")
    path = tmp_path / "c.toml"
    path.write_text(tomlkit.dumps({section: {name: value}}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{key} in {path} must be ") and "\n" not in message


def test_boundary_values_are_accepted(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[model]\ntemperature = 2\ntop_p = 1\nseed = 0\nmax_new_tokens = 1\nbase_url = 'http://h:1/v1'\n"
        "[loop]\nt_max = 0\ncandidates = 16\ncandidate_min_temperature = 2.0\n"
        "candidate_max_temperature = 2.0\nanalyzer_timeout = 3600\n"
    )
    assert load_config(path).loop.candidates == 16


def test_min_above_max_candidate_temperature_is_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[loop]\ncandidate_min_temperature = 1.5\ncandidate_max_temperature = 1.0\n")
    with pytest.raises(ConfigError, match="0 < min <= max <= 2"):
        load_config(path)


def test_an_explicit_config_file_must_exist(tmp_path):
    with pytest.raises(ConfigNotFound, match="does not exist"):
        load_config(tmp_path / "typo.toml", must_exist=True)
    assert load_config(tmp_path / "typo.toml").loop.t_max == 3  # the default place: defaults


# -- environment variables ---------------------------------------------------------------------------


def test_every_key_has_a_systematic_variable(tmp_path):
    for key, setting in SETTINGS.items():
        assert setting.env == "PATCHLOOP_" + key.replace(".", "_").upper()
    config = apply_env(
        load_config(tmp_path / "none.toml"),
        {
            "PATCHLOOP_LOOP_T_MAX": "7",
            "PATCHLOOP_MODEL_TEMPERATURE": "0.5",
            "PATCHLOOP_LOOP_AUTOFIX": "off",
            "PATCHLOOP_LOOP_SKIP": "B101, B602",
            "PATCHLOOP_LOG_DB": "/x/log.db",
            "PATCHLOOP_KEYS_SEND": "ctrl+s",
        },
    )
    assert (config.loop.t_max, config.model.temperature, config.loop.autofix) == (7, 0.5, False)
    assert (
        config.loop.skip == ["B101", "B602"]
        and config.log.db == "/x/log.db"
        and config.keys == {"send": "ctrl+s"}
    )
    assert config.source("loop.t_max") == (ENVIRONMENT, "PATCHLOOP_LOOP_T_MAX")


def test_short_aliases(tmp_path):
    assert ENV_ALIASES["PATCHLOOP_MODEL"] == "model.name" and ENV_ALIASES["PATCHLOOP_T_MAX"] == "loop.t_max"
    config = apply_env(
        load_config(tmp_path / "none.toml"),
        {
            "PATCHLOOP_MODEL": "openai:qwen",
            "PATCHLOOP_T_MAX": "2",
            "PATCHLOOP_ANALYZERS": "security",
            # Not settings: left alone.
            "PATCHLOOP_CONFIG": "/elsewhere.toml",
            "PATCHLOOP_SANDBOX": "none",
            "PATCHLOOP_TEST_KEY": "x",
            "PATCHLOOP_THRESHOLD": "",  # empty: unset
        },
    )
    assert (config.model.name, config.loop.t_max, config.loop.analyzers) == ("openai:qwen", 2, "security")
    assert config.loop.threshold == "note"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"PATCHLOOP_T_MAX": "three"}, "PATCHLOOP_T_MAX must be an integer, not 'three'"),
        ({"PATCHLOOP_T_MAX": "99"}, "loop.t_max (from PATCHLOOP_T_MAX) must be between 0 and 50, not 99"),
        ({"PATCHLOOP_LOOP_AUTOFIX": "maybe"}, "PATCHLOOP_LOOP_AUTOFIX must be true or false"),
        ({"PATCHLOOP_MODEL_TOP_P": "x"}, "PATCHLOOP_MODEL_TOP_P must be a number"),
        ({"PATCHLOOP_ANALYZERS": "svace"}, "loop.analyzers (from PATCHLOOP_ANALYZERS) must be one of"),
        (
            {"PATCHLOOP_LOOP_TMAX": "3"},
            "PATCHLOOP_LOOP_TMAX names no setting (did you mean PATCHLOOP_LOOP_T_MAX?)",
        ),
        ({"PATCHLOOP_MODEL": "a", "PATCHLOOP_MODEL_NAME": "b"}, "both set model.name"),
    ],
)
def test_bad_variables_are_one_line_errors(tmp_path, environ, message):
    with pytest.raises(ConfigError) as caught:
        apply_env(load_config(tmp_path / "none.toml"), environ)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_precedence_default_file_environment_flag(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[loop]\nt_max = 4\nanalyzers = 'defects'\nthreshold = 'warning'\n")
    config = apply_env(load_config(path), {"PATCHLOOP_T_MAX": "6", "PATCHLOOP_ANALYZERS": "security"})
    apply_overrides(config, t_max=8)
    assert (config.loop.t_max, config.loop.analyzers, config.loop.threshold, config.loop.candidates) == (
        8,
        "security",
        "warning",
        4,
    )
    assert [
        config.source(k)[0] for k in ("loop.t_max", "loop.analyzers", "loop.threshold", "loop.candidates")
    ] == [CLI, ENVIRONMENT, FILE, DEFAULT]


@pytest.mark.parametrize(
    "key, text, value",
    [
        ("loop.autofix", "yes", True),
        ("loop.autofix", "0", False),
        ("loop.t_max", " 5 ", 5),
        ("model.timeout", "30", 30.0),
        ("loop.skip", "B101,,B602", ["B101", "B602"]),
        ("loop.skip", '["a", "b"]', ["a", "b"]),
        ("model.name", "Qwen/Qwen2.5-Coder-1.5B", "Qwen/Qwen2.5-Coder-1.5B"),
        ("model.name", '"quoted"', "quoted"),
        ("model.seed", "-1", -1),
    ],
)
def test_text_values(key, text, value):
    assert parse_value(SETTINGS[key], text) == value


# -- editing the file in place -----------------------------------------------------------------------

COMMENTED = """# my settings
[loop]  # the repair loop
t_max = 4  # four is plenty

# the model comes next
[model]
name = 'x/y'   # a local folder

[future]
keep = 1
"""


def test_set_keeps_comments_and_layout(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(COMMENTED)
    set_value(path, "loop.t_max", 6)
    set_value(path, "loop.autofix", False)
    set_value(path, "log.db", "/data/log.db")
    assert (
        path.read_text()
        == COMMENTED.replace("t_max = 4", "t_max = 6").replace(
            "four is plenty\n", "four is plenty\nautofix = false\n"
        )
        + '\n[log]\ndb = "/data/log.db"\n'
    )
    assert load_config(path).loop.t_max == 6


def test_set_refuses_a_bad_value_and_leaves_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(COMMENTED)
    with pytest.raises(ConfigError, match="loop.t_max in .* must be between 0 and 50"):
        set_value(path, "loop.t_max", 99)
    with pytest.raises(ConfigError, match="no setting loop.tmax .did you mean loop.t_max"):
        set_value(path, "loop.tmax", 1)
    assert path.read_text() == COMMENTED


def test_set_creates_a_missing_file_and_folder(tmp_path):
    path = tmp_path / "new" / "c.toml"
    set_value(path, "model.name", "embedded-1.5b")
    assert load_config(path, must_exist=True).model.name == "embedded-1.5b"


def test_unset_removes_only_that_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(COMMENTED)
    removed, config = unset_value(path, "loop.t_max")
    assert removed and config.loop.t_max == 3
    assert path.read_text() == COMMENTED.replace("t_max = 4  # four is plenty\n", "")
    assert unset_value(path, "loop.t_max")[0] is False
    assert (
        unset_value(tmp_path / "none.toml", "loop.t_max")[0] is False
        and not (tmp_path / "none.toml").exists()
    )


def test_save_leaves_environment_overrides_out_of_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(COMMENTED)
    config = apply_env(load_config(path), {"PATCHLOOP_MODEL": "openai:big"})
    config.loop.analyzers = "security"
    save_config(config)
    text = path.read_text()
    assert "name = 'x/y'   # a local folder" in text and "# the model comes next" in text
    assert load_config(path).loop.analyzers == "security"
