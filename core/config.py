"""Settings from a TOML file, overridden by CLI flags.

The file lives at ``$PATCHLOOP_CONFIG`` or the user's config directory (``patchloop config path``
prints it). Sections mirror the dataclass groups below; a missing file means all defaults. The app
saves settings back with ``save_config``; unknown keys are kept so a newer version's file survives.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from .types import SEVERITIES, GenParams

SUITE_NAMES = ("defects", "security", "all")
ENGINES = ("auto", "llama.cpp", "transformers")  # as core/backends/engines.py names them


class ConfigError(ValueError):
    """The config file or an override is invalid; the message names the key and the file."""


@dataclass
class ModelSettings:
    name: str = "embedded"  # embedded | embedded-1.5b | HF id | local folder | openai:NAME
    adapter: str = ""  # LoRA adapter folder from `patchloop train dpo`
    device: str = "auto"  # auto | cpu | cuda
    engine: str = "auto"  # auto | llama.cpp | transformers: what runs a GGUF model (auto: llama.cpp without CUDA)
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


@dataclass
class LogConfig:
    db: str = ""  # empty: the default path in the user's data directory


@dataclass
class Config:
    model: ModelSettings = field(default_factory=ModelSettings)
    loop: LoopConfig = field(default_factory=LoopConfig)
    log: LogConfig = field(default_factory=LogConfig)
    keys: dict[str, str] = field(default_factory=dict)  # app binding id -> key, e.g. send = "ctrl+j"
    path: Path | None = None  # where it was read from / will be saved to
    extra: dict[str, Any] = field(default_factory=dict)  # unknown sections, preserved on save

    def gen_params(self) -> GenParams:
        m = self.model
        return GenParams(
            max_new_tokens=m.max_new_tokens, temperature=m.temperature, top_p=m.top_p,
            seed=None if m.seed < 0 else m.seed,
        )

    def validate(self) -> Config:
        where = f" in {self.path}" if self.path else ""
        if self.loop.threshold not in SEVERITIES:
            raise ConfigError(f"loop.threshold{where} must be one of {', '.join(SEVERITIES)}, not {self.loop.threshold!r}")
        if self.loop.analyzers not in SUITE_NAMES:
            raise ConfigError(f"loop.analyzers{where} must be one of {', '.join(SUITE_NAMES)}, not {self.loop.analyzers!r}")
        if not 0 <= self.loop.t_max <= 50:
            raise ConfigError(f"loop.t_max{where} must be between 0 and 50, not {self.loop.t_max}")
        if self.loop.feedback not in ("fresh", "chat"):
            raise ConfigError(f"loop.feedback{where} must be fresh or chat, not {self.loop.feedback!r}")
        if not 0 <= self.loop.candidates <= 16:
            raise ConfigError(f"loop.candidates{where} must be between 0 and 16, not {self.loop.candidates}")
        low, high = self.loop.candidate_min_temperature, self.loop.candidate_max_temperature
        if not 0 < low <= high <= 2:
            raise ConfigError(
                f"loop.candidate_min_temperature and candidate_max_temperature{where} must satisfy "
                f"0 < min <= max <= 2, not {low} and {high}"
            )
        def check(name: str, value: float, ok: bool, rule: str) -> None:
            # Written as "not ok" tests, so NaN (TOML's nan) fails every rule.
            if not ok or (isinstance(value, float) and not math.isfinite(value)):
                raise ConfigError(f"{name}{where} must be {rule}, not {value}")

        m, loop = self.model, self.loop
        check("loop.analyzer_timeout", loop.analyzer_timeout, loop.analyzer_timeout > 0, "a number of seconds > 0")
        check("loop.sandbox_disk_mb", loop.sandbox_disk_mb, 16 <= loop.sandbox_disk_mb <= 65_536, "between 16 and 65536")
        check("loop.sandbox_memory_mb", loop.sandbox_memory_mb, 64 <= loop.sandbox_memory_mb <= 262_144,
              "between 64 and 262144")
        check("model.timeout", m.timeout, m.timeout > 0, "a number of seconds > 0")
        check("model.max_new_tokens", m.max_new_tokens, m.max_new_tokens >= 1, "at least 1")
        check("model.temperature", m.temperature, 0 <= m.temperature <= 2, "between 0 and 2")
        check("model.top_p", m.top_p, 0 < m.top_p <= 1, "above 0 and at most 1")
        check("model.seed", m.seed, m.seed >= -1, "-1 (none) or a seed >= 0")
        for binding, keys in self.keys.items():
            if not isinstance(keys, str) or not all(part.strip() for part in keys.split(",")):
                raise ConfigError(f"keys.{binding}{where} must be one or more keys separated by commas, "
                                  f"not {keys!r}")
        if self.model.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"model.device{where} must be auto, cpu or cuda, not {self.model.device!r}")
        if self.model.engine not in ENGINES:
            raise ConfigError(f"model.engine{where} must be {', '.join(ENGINES)}, not {self.model.engine!r}")
        return self


_SECTIONS = {"model": ModelSettings, "loop": LoopConfig, "log": LogConfig}


def default_config_path() -> Path:
    env = os.environ.get("PATCHLOOP_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("patchloop")) / "config.toml"


def _section(cls, data: dict[str, Any], name: str, path: Path) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} in [{name}] of {path}")
    default = cls()
    values = {}
    for key, value in data.items():
        expected = type(getattr(default, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"[{name}] {key} in {path} must be {expected.__name__}, not {value!r}")
        values[key] = value
    return replace(default, **values)


def load_config(path: str | Path | None = None) -> Config:
    path = Path(path).expanduser() if path else default_config_path()
    config = Config(path=path)
    if not path.exists():
        return config
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    for name in (*_SECTIONS, "keys"):
        if name in data and not isinstance(data[name], dict):
            raise ConfigError(f"{name} in {path} must be a [{name}] table, not {data[name]!r}")
    for name, cls in _SECTIONS.items():
        if name in data:
            setattr(config, name, _section(cls, data.pop(name), name, path))
    if "keys" in data:
        keys = data.pop("keys")
        if not all(isinstance(v, str) for v in keys.values()):
            raise ConfigError(f"[keys] in {path} maps binding ids to key strings")
        config.keys = dict(keys)
    config.extra = data
    return config.validate()


def save_config(config: Config, path: str | Path | None = None) -> Path:
    """Write the config atomically (a crash never leaves half a file)."""
    path = Path(path or config.path or default_config_path()).expanduser()
    data: dict[str, Any] = dict(config.extra)
    for name in _SECTIONS:
        data[name] = asdict(getattr(config, name))
    if config.keys:
        data["keys"] = dict(config.keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    tmp.replace(path)
    config.path = path
    return path


def apply_overrides(config: Config, **overrides: Any) -> Config:
    """CLI flags win over the file; ``None`` means "flag not given"."""
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, key = dotted.split("__", 1) if "__" in dotted else ("loop", dotted)
        target = getattr(config, section)
        if not hasattr(target, key):
            raise ConfigError(f"no setting {section}.{key}")
        setattr(target, key, value)
    return config.validate()


def db_path(config: Config) -> Path | None:
    return Path(config.log.db).expanduser() if config.log.db else None
