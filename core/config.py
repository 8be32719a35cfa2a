"""Settings: the defaults, then the TOML file, then ``PATCHLOOP_*`` environment variables, then CLI flags.

The file lives at ``$PATCHLOOP_CONFIG`` or the user's config directory (``patchloop config path``
prints it); a missing file at that default place means all defaults. Sections mirror the dataclass
groups below. Every key also has an environment variable, ``PATCHLOOP_<SECTION>_<NAME>`` (upper
case: ``PATCHLOOP_LOOP_T_MAX``), and a few have a short alias (``ENV_ALIASES``). The config records
where each value came from (``Config.source``) for ``patchloop config list`` and for error messages.
Writing the file (keeping its comments and layout) is ``config_edit.py``'s job.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from .languages import ANALYZED
from .types import SEVERITIES, GenParams

SUITE_NAMES = ("defects", "security", "all")
ENGINES = ("auto", "llama.cpp", "transformers")  # as core/backends/engines.py names them
DEVICES = ("auto", "cpu", "cuda")
FEEDBACK = ("fresh", "chat")
# The ranges of the loop's two counts, for the config rules, the CLI options and the app's settings.
T_MAX_RANGE = (0, 50)  # patch iterations after the first attempt
CANDIDATES_RANGE = (0, 16)  # repairs sampled when the greedy one repeats


class ConfigError(ValueError):
    """The config file or an override is invalid; the message names the key and where it came from."""


class ConfigNotFound(ConfigError):
    """A config file named explicitly (``--config FILE``) does not exist."""


@dataclass
class ModelSettings:
    name: str = "embedded"  # embedded | embedded-1.5b | HF id | local folder | openai:NAME
    adapter: str = ""  # LoRA adapter folder from `patchloop train dpo`
    device: str = "auto"  # auto | cpu | cuda
    engine: str = (
        "auto"  # auto | llama.cpp | transformers: what runs a GGUF model (auto: llama.cpp without CUDA)
    )
    load_in_4bit: bool = True  # on CUDA only: NF4 through bitsandbytes
    base_url: str = ""  # for openai:NAME models
    api_key_env: str = "OPENAI_API_KEY"  # the key itself is never stored here or in the log
    timeout: float = 120.0  # seconds a served model may take to answer (openai:NAME)
    max_new_tokens: int = 768
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = -1  # -1: none


@dataclass
class LoopConfig:
    t_max: int = 3
    analyzers: str = "all"
    threshold: str = "note"
    language: str = "auto"  # auto: the one the prompt names, else the answer's code fence tag, else python
    skip: list[str] = field(default_factory=list)
    analyzer_timeout: float = 60.0
    prompts_dir: str = ""
    autofix: bool = True  # deterministic rewrites before each patch request
    feedback: str = "fresh"  # fresh: a new conversation per repair | chat: the answer and findings appended
    candidates: int = 4  # sampled repairs drawn when the greedy one repeats or does not help (0: off)
    candidate_min_temperature: float = 0.3  # the candidates' temperatures rise from min to max
    candidate_max_temperature: float = 1.0
    # Caps on one sandboxed test run, all its processes together (core/sandbox_limits.py's defaults).
    sandbox_disk_mb: int = 256  # everything the run writes, stdout and stderr included
    sandbox_memory_mb: int = 1024  # the memory its processes hold together
    # Start the analyzers' long-lived tools (Python's language servers and workers) while the model
    # loads, so the first verdict comes as fast as the next instead of 2-3 s later.
    prewarm: bool = True


@dataclass
class LogConfig:
    db: str = ""  # empty: the default path in the user's data directory


_SECTIONS: dict[str, type] = {"model": ModelSettings, "loop": LoopConfig, "log": LogConfig}


@dataclass(frozen=True)
class Setting:
    """One key of the file, e.g. ``loop.t_max``: its type, its default and its environment variable."""

    key: str
    type: type  # str, int, float, bool or list (of str)
    default: Any

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    @property
    def env(self) -> str:
        return "PATCHLOOP_" + self.key.replace(".", "_").upper()


def _settings() -> dict[str, Setting]:
    # Derived from the dataclasses, so a new field is a new key (with its variable) at once.
    found = {}
    for section, cls in _SECTIONS.items():
        default = cls()
        for f in fields(cls):
            value = getattr(default, f.name)
            found[f"{section}.{f.name}"] = Setting(f"{section}.{f.name}", type(value), value)
    return found


SETTINGS: dict[str, Setting] = _settings()

# Short names for the settings changed most often; PATCHLOOP_<SECTION>_<NAME> works for every key.
ENV_ALIASES: dict[str, str] = {
    "PATCHLOOP_MODEL": "model.name",
    "PATCHLOOP_ADAPTER": "model.adapter",
    "PATCHLOOP_DEVICE": "model.device",
    "PATCHLOOP_ENGINE": "model.engine",
    "PATCHLOOP_T_MAX": "loop.t_max",
    "PATCHLOOP_ANALYZERS": "loop.analyzers",
    "PATCHLOOP_THRESHOLD": "loop.threshold",
    "PATCHLOOP_SKIP": "loop.skip",
    "PATCHLOOP_DB": "log.db",
}
_ENV_KEYS: dict[str, str] = {**{s.env: key for key, s in SETTINGS.items()}, **ENV_ALIASES}
# PATCHLOOP_KEYS_<BINDING ID> sets one key binding of the app ([keys] in the file).
KEYS_ENV_PREFIX = "PATCHLOOP_KEYS_"
# Variables under a section's prefix that name no setting are typos, refused rather than ignored;
# other PATCHLOOP_* variables (PATCHLOOP_CONFIG, PATCHLOOP_SANDBOX) are not settings at all.
_SECTION_ENV_PREFIXES = tuple(f"PATCHLOOP_{name.upper()}_" for name in _SECTIONS)

# Where a value came from, as `patchloop config list` shows it.
DEFAULT, FILE, ENVIRONMENT, CLI = "default", "file", "environment", "cli"


@dataclass
class Config:
    model: ModelSettings = field(default_factory=ModelSettings)
    loop: LoopConfig = field(default_factory=LoopConfig)
    log: LogConfig = field(default_factory=LogConfig)
    keys: dict[str, str] = field(default_factory=dict)  # app binding id -> key, e.g. send = "ctrl+j"
    path: Path | None = None  # where it was read from / will be saved to
    extra: dict[str, Any] = field(default_factory=dict)  # unknown sections, preserved on save
    # key -> (FILE | ENVIRONMENT | CLI, the file, variable or flag); keys not in it are defaults.
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)
    # key -> the value an environment variable or flag set: saving the file leaves those out
    # unless they were changed since (an override is for this process, not for the file).
    overridden: dict[str, Any] = field(default_factory=dict)

    def gen_params(self) -> GenParams:
        m = self.model
        return GenParams(
            max_new_tokens=m.max_new_tokens,
            temperature=m.temperature,
            top_p=m.top_p,
            seed=None if m.seed < 0 else m.seed,
        )

    def get(self, key: str) -> Any:
        """The effective value of ``section.name`` (``keys.<binding>`` included)."""
        section, _, name = key.partition(".")
        if section == "keys":
            return self.keys.get(name)
        setting = SETTINGS.get(key)
        if setting is None:
            raise ConfigError(unknown_key_message(key))
        return getattr(getattr(self, section), name)

    def set(self, key: str, value: Any, source: str, origin: str) -> None:
        section, _, name = key.partition(".")
        if section == "keys":
            self.keys[name] = value
        elif key in SETTINGS:
            setattr(getattr(self, section), name, value)
        else:
            raise ConfigError(unknown_key_message(key))
        self.sources[key] = (source, origin)
        if source in (ENVIRONMENT, CLI):
            self.overridden[key] = value

    def source(self, key: str) -> tuple[str, str]:
        return self.sources.get(key, (DEFAULT, ""))

    def where(self, key: str) -> str:
        """Where ``key``'s value came from, for an error message: ' in FILE', ' (from $VAR)'."""
        source, origin = self.source(key)
        if source == ENVIRONMENT:
            return f" (from {origin})"
        if source == CLI:
            return f" (from {origin})" if origin else ""
        return f" in {self.path}" if self.path and source == FILE else ""

    def validate(self) -> Config:
        for key, (ok, rule) in RULES.items():
            value = self.get(key)
            # Written as "ok" tests, so NaN (TOML's nan) fails every numeric rule.
            finite = not (isinstance(value, float) and not math.isfinite(value))
            if not (finite and ok(value)):
                raise ConfigError(f"{key}{self.where(key)} must be {rule}, not {value!r}")
        low, high = self.loop.candidate_min_temperature, self.loop.candidate_max_temperature
        if low > high:
            key = "loop.candidate_min_temperature"
            where = self.where(key) or self.where("loop.candidate_max_temperature")
            raise ConfigError(
                f"loop.candidate_min_temperature and candidate_max_temperature{where} must satisfy "
                f"0 < min <= max <= 2, not {low} and {high}"
            )
        for binding, keys in self.keys.items():
            if not isinstance(keys, str) or not all(part.strip() for part in keys.split(",")):
                raise ConfigError(
                    f"keys.{binding}{self.where('keys.' + binding)} must be one or more keys "
                    f"separated by commas, not {keys!r}"
                )
        return self


def _choice(options: tuple[str, ...]) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in options), "one of " + ", ".join(options)


def _between(low: int, high: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: low <= v <= high), f"between {low} and {high}"


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEED_MAX = 2**31 - 1  # numpy (transformers' set_seed) takes < 2**32; candidates add offsets to it
_DAY = 86_400.0

# key -> (test, what a good value is). Every numeric and every enumerated key has one (tested).
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model.name": (
        (lambda v: bool(v.strip())),
        "a model (embedded, embedded-1.5b, a Hugging Face id, a folder or openai:NAME)",
    ),
    "model.device": _choice(DEVICES),
    "model.engine": _choice(ENGINES),
    "model.base_url": (
        (lambda v: v == "" or v.startswith(("http://", "https://"))),
        "empty or an http:// or https:// URL",
    ),
    "model.api_key_env": (
        (lambda v: v == "" or _ENV_NAME.fullmatch(v) is not None),
        "the name of an environment variable",
    ),
    "model.timeout": ((lambda v: 0 < v <= _DAY), f"a number of seconds above 0 and at most {_DAY:g}"),
    "model.max_new_tokens": _between(1, 32_768),
    "model.temperature": _between(0, 2),
    "model.top_p": ((lambda v: 0 < v <= 1), "above 0 and at most 1"),
    "model.seed": ((lambda v: -1 <= v <= _SEED_MAX), f"-1 (none) or a seed from 0 to {_SEED_MAX}"),
    "loop.t_max": _between(*T_MAX_RANGE),
    "loop.analyzers": _choice(SUITE_NAMES),
    "loop.threshold": _choice(SEVERITIES),
    "loop.language": _choice(("auto", *ANALYZED)),
    "loop.skip": (
        (lambda v: all(isinstance(r, str) and r.strip() and not any(c.isspace() for c in r) for r in v)),
        "a list of rule ids (B101, bandit:B101, assert_used)",
    ),
    "loop.analyzer_timeout": ((lambda v: 0 < v <= 3600), "a number of seconds above 0 and at most 3600"),
    "loop.feedback": _choice(FEEDBACK),
    "loop.candidates": _between(*CANDIDATES_RANGE),
    "loop.candidate_min_temperature": ((lambda v: 0 < v <= 2), "above 0 and at most 2"),
    "loop.candidate_max_temperature": ((lambda v: 0 < v <= 2), "above 0 and at most 2"),
    "loop.sandbox_disk_mb": _between(16, 65_536),
    # Below 128 MB the limits derived from the cap (sandbox_limits.plan_memory) leave no room for a
    # test run's launcher, judge and solution (3 processes of at least 32 MB).
    "loop.sandbox_memory_mb": _between(128, 262_144),
}


def _suggest(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {close[0]}?)" if close else " (`patchloop config list` shows them all)"


def unknown_key_message(key: str) -> str:
    return f"no setting {key}{_suggest(key, SETTINGS)}"


def default_config_path() -> Path:
    env = os.environ.get("PATCHLOOP_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("patchloop")) / "config.toml"


# -- reading ------------------------------------------------------------------------------------


def _checked(setting: Setting, value: Any, where: str) -> Any:
    """A file's value with the setting's type (an int is a float where a float is wanted)."""
    expected = setting.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(
            f"[{setting.section}] {setting.name}{where} must be {expected.__name__}, not {value!r}"
        )
    if expected is list and isinstance(value, list):  # (it is one, when a list is expected)
        if not all(isinstance(item, str) for item in value):
            raise ConfigError(
                f"[{setting.section}] {setting.name}{where} must be a list of strings, not {value!r}"
            )
        return list(value)
    return value


def config_from_data(data: Mapping[str, Any], path: Path | None) -> Config:
    """The config a parsed TOML file describes (unknown keys refused, unknown sections kept)."""
    config = Config(path=path)
    where = f" in {path}" if path else ""
    data = dict(data)
    for name in (*_SECTIONS, "keys"):
        if name in data and not isinstance(data[name], Mapping):
            raise ConfigError(f"{name}{where} must be a [{name}] table, not {data[name]!r}")
    for name in _SECTIONS:
        table = dict(data.pop(name, {}))
        unknown = sorted(set(table) - {s.name for s in SETTINGS.values() if s.section == name})
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join(unknown)} in [{name}]{' of ' + str(path) if path else ''}"
            )
        for key, value in table.items():
            setting = SETTINGS[f"{name}.{key}"]
            config.set(setting.key, _checked(setting, value, where), FILE, str(path or ""))
    keys = dict(data.pop("keys", {}))
    if not all(isinstance(v, str) for v in keys.values()):
        raise ConfigError(f"[keys]{where} maps binding ids to key strings")
    for binding, value in keys.items():
        config.set(f"keys.{binding}", value, FILE, str(path or ""))
    config.extra = data
    return config.validate()


def load_config(path: str | Path | None = None, *, must_exist: bool = False) -> Config:
    """The file's settings over the defaults. A missing file means defaults, unless ``must_exist``
    (a path the user named explicitly: a typo there must not silently run with defaults)."""
    path = Path(path).expanduser() if path else default_config_path()
    if not path.exists():
        if must_exist:
            raise ConfigNotFound(
                f"the config file {path} does not exist "
                "(`patchloop --config FILE config set KEY VALUE` creates it)"
            )
        return Config(path=path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    return config_from_data(data, path)


# -- text values: environment variables and `config set` -----------------------------------------

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_value(setting: Setting, text: str, label: str | None = None) -> Any:
    """``text`` as a value of ``setting``'s type: what an environment variable or `config set` gives.

    Booleans are true/false (also 1/0, yes/no, on/off); lists are comma-separated (or a TOML array);
    a string may be written bare or as a quoted TOML string."""
    label = label or setting.key
    stripped = text.strip()
    kind = setting.type
    if kind is bool:
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise ConfigError(f"{label} must be true or false, not {text!r}")
    if kind is int:
        try:
            return int(stripped)
        except ValueError:
            raise ConfigError(f"{label} must be an integer, not {text!r}") from None
    if kind is float:
        try:
            return float(stripped)
        except ValueError:
            raise ConfigError(f"{label} must be a number, not {text!r}") from None
    if kind is list:
        if stripped.startswith("["):
            value = _toml_literal(stripped)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(
                    f"{label} must be a comma-separated list or a TOML array of strings, not {text!r}"
                )
            return value
        return [part.strip() for part in stripped.split(",") if part.strip()]
    if stripped[:1] in ("'", '"'):
        value = _toml_literal(stripped)
        if isinstance(value, str):
            return value
    return text


def _toml_literal(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return None


def env_settings(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """key -> (variable, text) for the PATCHLOOP_* variables that set something. An empty variable
    counts as unset (as PATCHLOOP_CONFIG does); a variable under a section's prefix that names no
    setting, or two variables giving one key different values, is an error."""
    found: dict[str, tuple[str, str]] = {}
    for name in sorted(environ):
        text = environ[name]
        if not name.startswith("PATCHLOOP_") or text == "":
            continue
        key = _ENV_KEYS.get(name)
        if key is None and name.startswith(KEYS_ENV_PREFIX) and len(name) > len(KEYS_ENV_PREFIX):
            key = "keys." + name[len(KEYS_ENV_PREFIX) :].lower()
        if key is None:
            if name.startswith(_SECTION_ENV_PREFIXES):
                raise ConfigError(f"{name} names no setting{_suggest(name, _ENV_KEYS)}")
            continue
        if key in found and found[key][1] != text:
            raise ConfigError(f"{found[key][0]} and {name} both set {key}, to different values")
        found[key] = (name, text)
    return found


def apply_env(config: Config, environ: Mapping[str, str] | None = None) -> Config:
    """Environment variables over the file (CLI flags, applied later, win over both)."""
    for key, (name, text) in env_settings(os.environ if environ is None else environ).items():
        value = text if key.startswith("keys.") else parse_value(SETTINGS[key], text, name)
        config.set(key, value, ENVIRONMENT, name)
    return config.validate()


def apply_overrides(config: Config, **overrides: Any) -> Config:
    """CLI flags win over the file and the environment; ``None`` means "flag not given".

    Names are ``section__name``, or a bare name for ``[loop]`` keys."""
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, key = dotted.split("__", 1) if "__" in dotted else ("loop", dotted)
        config.set(f"{section}.{key}", value, CLI, "")
    return config.validate()


def db_path(config: Config) -> Path | None:
    return Path(config.log.db).expanduser() if config.log.db else None
