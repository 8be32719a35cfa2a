"""`patchloop cache info` and `cache clean`: the model, adapter and wheel caches, never the log."""

from __future__ import annotations

import json

import pytest

MiB = 1024 * 1024


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """A cache folder laid out as patchloop fills it, with real bytes (sizes are counted in blocks)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(root))
    monkeypatch.delenv("PATCHLOOP_WHEEL_CACHE", raising=False)
    base = root / "patchloop"
    files = {
        "models/qwen.gguf": 3 * MiB,
        "models/qwen-1d96-transformers5/model.safetensors": 2 * MiB,
        "adapters/ad-1234.gguf": MiB,
        "wheels/llama-cpp-python-0.3.36-abcd/llama_cpp_python-0.3.36-cp311-linux_x86_64.whl": MiB,
    }
    for name, size in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    (base / "wheels" / ".llama-build.lock").write_text("")
    return base


def test_cache_info_gives_each_cache_its_folder_and_size(env, caches):
    report = json.loads(env("cache", "info", "--json").output)
    assert set(report) == {"models", "adapters", "wheels"}
    assert report["models"]["path"] == str(caches / "models")
    assert 5 * MiB <= report["models"]["bytes"] < 6 * MiB
    assert [e["path"].rsplit("/", 1)[1] for e in report["models"]["entries"]] == [
        "qwen-1d96-transformers5",
        "qwen.gguf",
    ]
    assert MiB <= report["adapters"]["bytes"] < 2 * MiB
    text = env("cache", "info", "wheels").output
    assert "wheels" in text and "llama-cpp-python-0.3.36-abcd" in text and "models" not in text


def test_cache_clean_dry_run_removes_nothing(env, caches):
    result = env("cache", "clean", "--dry-run", "--json")
    report = json.loads(result.output)
    assert report["dry_run"] and len(report["removed"]) == 4 and report["bytes"] >= 7 * MiB
    assert (caches / "models" / "qwen.gguf").exists() and (caches / "adapters" / "ad-1234.gguf").exists()


def test_cache_clean_removes_the_named_caches_and_never_the_log(env, caches):
    env("log")  # the test's log database exists
    assert env.db.exists()
    result = env("cache", "clean", "models")
    assert result.exit_code == 0
    assert not list((caches / "models").iterdir())
    assert (caches / "adapters" / "ad-1234.gguf").exists() and (caches / "wheels").exists()
    assert "removed" in result.output and env.db.exists()
    result = env("cache", "clean")
    assert result.exit_code == 0
    assert not (caches / "adapters" / "ad-1234.gguf").exists()
    assert not (caches / "wheels" / "llama-cpp-python-0.3.36-abcd").exists()
    assert (caches / "wheels" / ".llama-build.lock").exists()  # a running build may hold it
    assert env.db.exists()


def test_a_log_database_kept_in_a_cache_folder_is_left_alone(env, caches):
    db = caches / "models" / "mine" / "log.db"
    db.parent.mkdir()
    env("log", db_path=db)
    assert db.exists()
    result = env("cache", "clean", "--json", db_path=db)
    report = json.loads(result.output)
    assert report["kept"] == [str(db.parent)]
    assert db.exists() and not (caches / "models" / "qwen.gguf").exists()


def test_cache_names_are_checked(env, caches):
    result = env("cache", "clean", "logs")
    assert result.exit_code == 2 and "logs" in result.output
