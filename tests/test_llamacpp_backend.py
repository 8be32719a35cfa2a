"""The llama.cpp engine: engine choice rules, chat template, LoRA conversion, and (e2e) the real
engine on the real embedded GGUF. The e2e tests skip only when llama-cpp-python is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from patchloop.core.backends import engines, load_backend, lora_gguf
from patchloop.core.backends.base import ModelError
from patchloop.core.backends.chat_template import render
from patchloop.core.config import ENGINES, Config, ConfigError, apply_overrides
from patchloop.core.types import Cancelled, GenParams, GenStats

HAS_LLAMA = engines.llama_cpp_installed()
needs_llama = pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python is not installed")

TASK = [{"role": "user", "content": "Write a Python function add(a, b) that returns a + b."}]


# ----------------------------------------------------------------------------- engine choice


@pytest.fixture
def machine(monkeypatch):
    """Set what the rules see: is llama-cpp-python there, is there a CUDA GPU."""

    def set_(llama: bool = True, cuda: bool = False):
        monkeypatch.setattr(engines, "llama_cpp_installed", lambda: llama)
        monkeypatch.setattr(engines, "cuda_visible", lambda: cuda)

    return set_


@pytest.mark.parametrize("spec", ["embedded", "embedded-1.5b", "/models/x.gguf", "model.GGUF"])
def test_gguf_models_default_to_llama_cpp_on_a_cpu_machine(machine, spec):
    machine(llama=True, cuda=False)
    assert engines.choose_engine(spec) == "llama.cpp"


def test_without_llama_cpp_gguf_models_fall_back_to_transformers(machine):
    machine(llama=False)
    assert engines.choose_engine("embedded") == "transformers"


def test_a_cuda_machine_keeps_transformers_unless_the_cpu_is_asked_for(machine):
    machine(llama=True, cuda=True)
    assert engines.choose_engine("embedded") == "transformers"
    assert engines.choose_engine("embedded", device="cuda") == "transformers"
    assert engines.choose_engine("embedded", device="cpu") == "llama.cpp"


@pytest.mark.parametrize("spec", ["Qwen/Qwen2.5-Coder-0.5B-Instruct", "./my-model-folder"])
def test_hugging_face_models_run_on_transformers(machine, spec):
    machine(llama=True, cuda=False)
    assert engines.choose_engine(spec) == "transformers"


def test_an_explicit_engine_is_obeyed_or_refused_with_the_reason(machine):
    machine(llama=True, cuda=True)
    assert engines.choose_engine("embedded", "llama.cpp") == "llama.cpp"
    assert engines.choose_engine("embedded", "transformers", device="cpu") == "transformers"
    with pytest.raises(ModelError, match="GGUF models"):
        engines.choose_engine("Qwen/Qwen2.5-Coder-0.5B-Instruct", "llama.cpp")
    with pytest.raises(ModelError, match="--device cpu"):
        engines.choose_engine("embedded", "llama.cpp", device="cuda")
    with pytest.raises(ModelError, match="Unknown engine 'vllm'"):
        engines.choose_engine("embedded", "vllm")
    machine(llama=False)
    with pytest.raises(ModelError, match="make setup"):
        engines.choose_engine("embedded", "llama.cpp")


def test_hidden_gpus_are_not_cuda(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert engines.cuda_visible() is False


def test_load_backend_builds_the_chosen_engine(machine, monkeypatch):
    from patchloop.core.backends import llamacpp_backend

    built = []
    monkeypatch.setattr(
        llamacpp_backend, "LlamaCppBackend", lambda spec, **opts: built.append((spec, opts)) or "L"
    )
    machine(llama=True, cuda=False)
    assert load_backend("embedded", engine="auto", adapter=None) == "L"
    assert built == [("embedded", {"adapter": None})]
    with pytest.raises(ModelError, match="GGUF models"):
        load_backend("some/hf-model", engine="llama.cpp")


def test_the_config_knows_the_engine_setting():
    assert ENGINES == engines.ENGINES
    config = Config()
    assert config.model.engine == "auto"
    assert apply_overrides(config, model__engine="llama.cpp").model.engine == "llama.cpp"
    with pytest.raises(ConfigError, match="model.engine"):
        apply_overrides(Config(), model__engine="fast")


def test_the_engine_option_reaches_the_backend_options():
    from patchloop.core.backends import backend_options

    config = apply_overrides(Config(), model__engine="transformers")
    assert backend_options(config.model)["engine"] == "transformers"


def test_choosing_the_engine_and_importing_it_load_no_torch():
    """The llama.cpp path must not pay for torch or transformers (seconds of import)."""
    code = (
        "import sys; from patchloop.core.backends import engines, llamacpp_backend, lora_gguf; "
        "engines.choose_engine('embedded'); "
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- chat template


QWEN_LIKE = (
    "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def test_the_template_renders_like_transformers():
    text = render(QWEN_LIKE, [{"role": "user", "content": "hi"}])
    assert (
        text
        == "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_a_template_that_refuses_is_a_model_error():
    with pytest.raises(ModelError, match="rejected the conversation: no tools"):
        render("{{ raise_exception('no tools') }}", TASK)
    with pytest.raises(ModelError, match="does not compile"):
        render("{% for %}", TASK)


# ----------------------------------------------------------------------------- LoRA conversion


MODULES = {"self_attn.q_proj": (8, 8), "self_attn.v_proj": (8, 4), "mlp.down_proj": (16, 8)}  # (in, out)


def write_adapter(
    folder: Path,
    *,
    layers: int = 2,
    r: int = 2,
    alpha: float = 4,
    scale_b: float = 1.0,
    seed: int = 0,
    dims: dict = MODULES,
    dtype=np.float32,
    **config,
) -> Path:
    """A peft-format LoRA folder (adapter_config.json + adapter_model.safetensors)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(layers):
        for module, (fan_in, fan_out) in dims.items():
            name = f"base_model.model.model.layers.{layer}.{module}"
            tensors[f"{name}.lora_A.weight"] = (rng.standard_normal((r, fan_in)) / np.sqrt(fan_in)).astype(
                dtype
            )
            tensors[f"{name}.lora_B.weight"] = (rng.standard_normal((fan_out, r)) * 0.05 * scale_b).astype(
                dtype
            )
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    settings = {
        "peft_type": "LORA",
        "r": r,
        "lora_alpha": alpha,
        "target_modules": [m.split(".")[-1] for m in dims],
        "task_type": "CAUSAL_LM",
        "bias": "none",
        "lora_dropout": 0.0,
    } | config
    (folder / "adapter_config.json").write_text(json.dumps(settings))
    return folder


def read_gguf(path: Path) -> tuple[dict, dict]:
    import gguf

    reader = gguf.GGUFReader(str(path))
    fields = {}
    for name, field in reader.fields.items():
        if field.types and field.types[0] == gguf.GGUFValueType.STRING:
            fields[name] = bytes(field.parts[field.data[0]]).decode()
        elif field.data:
            fields[name] = field.parts[field.data[0]].tolist()
    tensors = {
        t.name: (list(t.shape), np.array(t.data).reshape(list(reversed(t.shape)))) for t in reader.tensors
    }
    return fields, tensors


def test_an_adapter_converts_to_llama_cpp_names_layout_and_scale(tmp_path):
    from safetensors.numpy import load_file

    folder = write_adapter(tmp_path / "run1", r=2, alpha=4)
    out = lora_gguf.ensure_converted(folder, architecture="qwen2", n_layers=2, cache_dir=tmp_path / "cache")
    fields, tensors = read_gguf(out)
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["general.architecture"] == "qwen2" and fields["adapter.lora.alpha"] == [0.0]
    assert set(tensors) == {
        f"blk.{i}.{t}.weight.lora_{s}"
        for i in range(2)
        for t in ("attn_q", "attn_v", "ffn_down")
        for s in "ab"
    }
    source = load_file(str(folder / "adapter_model.safetensors"))
    a = source["base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"]
    b = source["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"]
    # ggml order: lora_a is [in, r], lora_b is [r, out] (the base weight is [in, out]).
    assert tensors["blk.1.attn_v.weight.lora_a"][0] == [8, 2]
    assert tensors["blk.1.attn_v.weight.lora_b"][0] == [2, 4]
    np.testing.assert_allclose(tensors["blk.1.attn_v.weight.lora_a"][1], a)
    np.testing.assert_allclose(
        tensors["blk.1.attn_v.weight.lora_b"][1], b * (4 / 2), rtol=1e-6
    )  # alpha / r folded in


def test_rslora_and_alpha_patterns_fold_peft_s_scaling(tmp_path):
    folder = write_adapter(tmp_path / "rs", r=4, alpha=8, use_rslora=True, alpha_pattern={"down_proj": 2})
    out = lora_gguf.convert(folder, tmp_path / "rs.gguf", architecture="qwen2", n_layers=2)
    _, tensors = read_gguf(out)
    plain = write_adapter(tmp_path / "plain", r=4, alpha=4)  # same seed, same weights, scale 1
    _, base = read_gguf(lora_gguf.convert(plain, tmp_path / "plain.gguf", architecture="qwen2", n_layers=2))
    np.testing.assert_allclose(
        tensors["blk.0.attn_q.weight.lora_b"][1], base["blk.0.attn_q.weight.lora_b"][1] * 8 / 2, rtol=1e-6
    )
    np.testing.assert_allclose(
        tensors["blk.0.ffn_down.weight.lora_b"][1], base["blk.0.ffn_down.weight.lora_b"][1] * 2 / 2, rtol=1e-6
    )


def test_bf16_adapters_are_read(tmp_path):
    import struct

    values = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"x": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, len(raw)]}}).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + raw)
    np.testing.assert_array_equal(lora_gguf.read_safetensors(path)["x"], values)


def test_a_converted_adapter_is_cached_by_content(tmp_path):
    folder = write_adapter(tmp_path / "a")
    first = lora_gguf.ensure_converted(folder, architecture="qwen2", n_layers=2, cache_dir=tmp_path)
    stamp = first.stat().st_mtime_ns
    stages = []
    again = lora_gguf.ensure_converted(
        folder, architecture="qwen2", n_layers=2, cache_dir=tmp_path, progress=stages.append
    )
    assert again == first and again.stat().st_mtime_ns == stamp and stages == []
    write_adapter(folder, seed=1)  # retrained in place: a new file
    assert lora_gguf.ensure_converted(folder, architecture="qwen2", n_layers=2, cache_dir=tmp_path) != first
    assert not list((tmp_path / "adapters").glob(".*partial"))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"use_dora": True}, "DoRA"),
        ({"modules_to_save": ["lm_head"]}, "whole modules"),
        ({"peft_type": "IA3"}, "not LoRA"),
    ],
)
def test_adapters_llama_cpp_cannot_run_are_refused(tmp_path, config, message):
    folder = write_adapter(tmp_path / "x", **config)
    with pytest.raises(ModelError, match=message):
        lora_gguf.ensure_converted(folder, architecture="qwen2", n_layers=2, cache_dir=tmp_path)


def test_adapter_mismatches_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="no adapter_config.json"):
        lora_gguf.ensure_converted(tmp_path / "missing", architecture="qwen2", n_layers=2, cache_dir=tmp_path)
    folder = write_adapter(tmp_path / "a", layers=3)
    with pytest.raises(ModelError, match="trained on another model"):
        lora_gguf.ensure_converted(folder, architecture="qwen2", n_layers=2, cache_dir=tmp_path)
    with pytest.raises(ModelError, match="supported for qwen2"):
        lora_gguf.ensure_converted(folder, architecture="llama", n_layers=3, cache_dir=tmp_path)
    (folder / "adapter_model.safetensors").unlink()
    with pytest.raises(ModelError, match="no adapter_model.safetensors"):
        lora_gguf.ensure_converted(folder, architecture="qwen2", n_layers=3, cache_dir=tmp_path)


# ----------------------------------------------------------------------------- the real engine (e2e)


@pytest.fixture(scope="module")
def llama():
    if not HAS_LLAMA:
        pytest.skip("llama-cpp-python is not installed")
    from patchloop.core.backends.llamacpp_backend import LlamaCppBackend

    backend = LlamaCppBackend("embedded", batch_size=4, n_ctx=4096)
    yield backend
    backend.close()


def recorded_decodes(llama, monkeypatch, measure) -> list:
    """``measure(entries)`` of every llama_decode call from now on, in order (the calls still run)."""
    decodes = []
    real = llama.engine._decode
    monkeypatch.setattr(
        llama.engine,
        "_decode",
        lambda entries, cancel: (decodes.append(measure(entries)), real(entries, cancel))[1],
    )
    return decodes


def greedy(n: int = 12, **kw) -> GenParams:
    return GenParams(max_new_tokens=n, **kw)


@pytest.mark.e2e
@needs_llama
def test_it_streams_the_embedded_model_with_its_chat_template_and_stats(llama):
    assert llama.info.backend == "llama.cpp" and llama.info.model.startswith("Qwen2.5-Coder-0.5B")
    assert llama.info.quantization.startswith("gguf") and llama.info.device == "cpu"
    prompt = llama.render_prompt(TASK)
    assert prompt == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
        "<|im_end|>\n<|im_start|>user\n" + TASK[0]["content"] + "<|im_end|>\n<|im_start|>assistant\n"
    )
    stats = GenStats()
    pieces = list(llama.generate(TASK, greedy(16), stats=stats))
    assert len(pieces) > 3 and "<|im" not in "".join(pieces)
    assert stats.prompt_tokens == len(llama.engine.tokenize(prompt)) > 20
    assert stats.completion_tokens == 16 and stats.first_token_seconds > 0


@pytest.mark.e2e
@needs_llama
def test_greedy_is_deterministic_and_stops_at_the_end_token(llama):
    short = [{"role": "user", "content": "Reply with the single word: yes"}]
    first = "".join(llama.generate(short, greedy(32)))
    stats = GenStats()
    assert "".join(llama.generate(short, greedy(32), stats=stats)) == first
    assert stats.completion_tokens < 32  # it ended on <|im_end|>, not on the limit


@pytest.mark.e2e
@needs_llama
def test_sampling_follows_the_seed(llama):
    def sample(seed):
        return "".join(llama.generate(TASK, greedy(16, temperature=1.0, seed=seed)))

    assert sample(7) == sample(7)
    assert len({sample(s) for s in (1, 2, 3)}) > 1


@pytest.mark.e2e
@needs_llama
def test_cancel_mid_stream_raises_cancelled_and_leaves_the_engine_usable(llama):
    expected = "".join(llama.generate(TASK, greedy(12)))
    cancel = threading.Event()
    stats = GenStats()
    got = []
    with pytest.raises(Cancelled):
        for piece in llama.generate(TASK, greedy(64), cancel=cancel, stats=stats):
            got.append(piece)
            if len(got) == 3:
                cancel.set()
    assert len(got) == 3 and stats.completion_tokens <= 4
    assert "".join(llama.generate(TASK, greedy(12))) == expected


@pytest.mark.e2e
@needs_llama
def test_cancel_before_start_and_an_abandoned_stream(llama):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        next(llama.generate(TASK, greedy(), cancel=cancel))
    with pytest.raises(Cancelled):
        llama.generate_batch([TASK, TASK], greedy(), cancel=cancel)
    stream = llama.generate(TASK, greedy(32))
    next(stream)
    stream.close()  # the consumer went away: the engine's lock must be free again
    assert "".join(llama.generate(TASK, greedy(4)))


@pytest.mark.e2e
@needs_llama
def test_a_batch_answers_like_one_at_a_time_in_input_order(llama):
    tasks = [
        [{"role": "user", "content": f"Write a Python function that returns {n} times its argument."}]
        for n in ("two", "three", "ten")
    ] + [TASK]
    alone = ["".join(llama.generate(t, greedy(12))) for t in tasks]
    batch = llama.generate_batch(tasks, greedy(12))
    assert [text for text, _ in batch] == alone
    assert all(stats.completion_tokens == 12 and stats.prompt_tokens > 20 for _, stats in batch)


@pytest.mark.e2e
@needs_llama
def test_an_answer_start_is_continued_not_restated(llama):
    from patchloop.core.backends.base import continues_answers

    start = '```python\ndef add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'
    asked = [*TASK, {"role": "assistant", "content": start}]
    assert continues_answers(llama)
    # The start is read as prompt, after the template's assistant header, and the answer begins with it.
    assert llama._prompt_tokens(asked) == llama.engine.tokenize(llama.render_prompt(TASK) + start)
    stats = GenStats()
    pieces = list(llama.generate(asked, greedy(24), stats=stats))
    assert pieces[0] == start and "".join(pieces).startswith(start + "    return")
    assert stats.completion_tokens <= 24 and stats.prompt_tokens == len(llama._prompt_tokens(asked))
    ((text, batch_stats),) = llama.generate_batch([asked], greedy(24))
    assert text == "".join(pieces) and batch_stats.completion_tokens == stats.completion_tokens


@pytest.mark.e2e
@needs_llama
def test_an_answer_ends_at_its_stop_string_and_decoding_stops_there(llama):
    from patchloop.core.backends.base import stop_index

    # The answer ends where "(a, b)" begins, inside the function's first line: the text before it,
    # streamed and batched alike (the stream holds back what may begin the stop until it is told
    # apart), and fewer tokens decoded than the same answer without the stop.
    ((plain, plain_stats),) = llama.generate_batch([TASK], greedy(32))
    params = greedy(32, stop=("(a, b)", "(a,b)"))
    at = stop_index(plain, params.stop)
    assert at is not None
    ((text, stats),) = llama.generate_batch([TASK], params)
    assert text == plain[:at] and stats.completion_tokens < plain_stats.completion_tokens
    assert "".join(llama.generate(TASK, params)) == text


@pytest.mark.e2e
@needs_llama
def test_more_jobs_than_slots_flow_through_as_slots_free_up(llama, monkeypatch):
    # 4 slots, 7 answers of different lengths: a slot that ends takes the next job at once, so
    # some decode holds a new prompt beside answers still going, and each result is reported as it ends.
    tasks = [
        [{"role": "user", "content": f"Write a Python function that returns {n} times its argument."}]
        for n in ("two", "three", "four", "five", "six", "seven", "ten")
    ]
    limits = [3, 14, 5, 9, 4, 12, 6]
    alone = ["".join(llama.generate(t, greedy(n))) for t, n in zip(tasks, limits)]
    decodes = recorded_decodes(llama, monkeypatch, list)
    reported = []
    batch = llama.generate_batch(
        tasks, [greedy(n) for n in limits], on_result=lambda i, result: reported.append((i, result[0]))
    )
    assert [text for text, _ in batch] == alone
    assert sorted(reported) == sorted(enumerate(alone)) and len(reported) == 7
    assert max(len({seq for _, _, seq, _ in entries}) for entries in decodes) <= 4
    mixed = [
        e for e in decodes if any(not logits for *_, logits in e) and sum(logits for *_, logits in e) > 1
    ]
    assert mixed, "no decode packed a new prompt beside running answers"


@pytest.mark.e2e
@needs_llama
def test_prompt_lookup_keeps_the_answers_and_saves_decodes(llama, monkeypatch):
    # The answer restates the task's signature: guesses copied from the prompt are taken, so fewer
    # llama_decode calls give the same greedy text and the same seeded draws (up to float rounding:
    # llama.cpp's sums for a token can differ in the last bit with the number of tokens decoded
    # beside it, which may flip a near-tie later in a long answer; these answers are short).
    task = [
        {
            "role": "user",
            "content": "Complete this function and return the whole code:\n```python\n"
            'def count_vowels(text: str) -> int:\n    """Return how many of the characters of text '
            'are vowels (a, e, i, o, u), upper or lower case."""\n```',
        }
    ]
    decodes = recorded_decodes(llama, monkeypatch, len)

    def answer(lookup, **kw):
        monkeypatch.setattr(llama.engine, "lookup", lookup)
        llama.engine._reset_cache()
        decodes.clear()
        return "".join(llama.generate(task, greedy(60, **kw))), len(decodes)

    plain, plain_steps = answer(0)
    looked, looked_steps = answer(16)
    assert looked == plain and "def count_vowels(text: str) -> int:" in plain
    assert looked_steps < 0.8 * plain_steps, (looked_steps, plain_steps)
    assert answer(16, temperature=0.8, seed=3)[0] == answer(0, temperature=0.8, seed=3)[0]
    batch = llama.generate_batch([task, TASK], greedy(24))
    monkeypatch.setattr(llama.engine, "lookup", 0)
    assert [t for t, _ in batch] == [t for t, _ in llama.generate_batch([task, TASK], greedy(24))]


@pytest.mark.e2e
@needs_llama
def test_a_batch_mixes_greedy_and_seeded_samples(llama):
    params = [greedy(10), greedy(10, temperature=0.9, seed=5), greedy(10, temperature=0.9, seed=6), greedy(6)]
    answers = [text for text, _ in llama.generate_batch([TASK] * 4, params)]
    assert answers[0] == "".join(llama.generate(TASK, greedy(10)))
    assert answers[1] == "".join(
        llama.generate(TASK, params[1])
    )  # a seed means the same draw, batched or not
    assert answers[3] == answers[0][: len(answers[3])] and answers[1] != answers[2]
    one_for_all = llama.generate_batch([TASK] * 2, greedy(10, temperature=0.9, seed=5))
    assert one_for_all[0][0] == answers[1]  # one setting for all: item i samples with seed + i
    assert one_for_all[1][0] == answers[2]
    with pytest.raises(ModelError, match="2 generation settings for 3"):
        llama.generate_batch([TASK] * 3, [greedy(), greedy()])


@pytest.mark.e2e
@needs_llama
def test_the_shared_prefix_is_not_recomputed(llama, monkeypatch):
    decoded = recorded_decodes(llama, monkeypatch, len)
    "".join(llama.generate(TASK, greedy(4)))
    prompt_tokens = len(llama.engine.tokenize(llama.render_prompt(TASK)))
    decoded.clear()
    "".join(llama.generate(TASK, greedy(4)))
    assert decoded[0] == 1  # the same prompt again: only its last token (for the logits)
    follow_up = TASK + [
        {"role": "assistant", "content": "def add(a, b):"},
        {"role": "user", "content": "Thanks."},
    ]
    decoded.clear()
    "".join(llama.generate(follow_up, greedy(4)))
    assert sum(decoded[:-3]) < len(llama.engine.tokenize(llama.render_prompt(follow_up))) - prompt_tokens + 8
    decoded.clear()
    llama.generate_batch([follow_up] * 4, greedy(4))  # four candidates of one prompt: its prefix once
    assert decoded[0] <= 4


@pytest.mark.e2e
@needs_llama
def test_bad_model_files_and_oversized_prompts_are_clear_errors(llama, tmp_path):
    from patchloop.core.backends.llamacpp_backend import LlamaCppBackend

    with pytest.raises(ModelError, match="does not exist"):
        LlamaCppBackend(str(tmp_path / "nope.gguf"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelError, match="not a .gguf file"):
        LlamaCppBackend(str(tmp_path / "notes.txt"))
    (tmp_path / "broken.gguf").write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelError, match="could not load the model file"):
        LlamaCppBackend(str(tmp_path / "broken.gguf"))
    huge = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(ModelError, match="more than the llama.cpp context"):
        next(llama.generate(huge, greedy()))


@pytest.mark.e2e
@needs_llama
def test_load_backend_picks_llama_cpp_for_the_embedded_model_on_this_cpu():
    if engines.cuda_visible():
        pytest.skip("a CUDA machine keeps transformers by default")
    backend = load_backend("embedded", engine="auto", device="auto", n_ctx=1024)
    assert backend.info.backend == "llama.cpp"
    backend.close()


QWEN05_DIMS = {
    "self_attn.q_proj": (896, 896),
    "self_attn.k_proj": (896, 128),
    "self_attn.v_proj": (896, 128),
    "self_attn.o_proj": (896, 896),
    "mlp.gate_proj": (896, 4864),
    "mlp.up_proj": (896, 4864),
    "mlp.down_proj": (4864, 896),
}


@pytest.mark.e2e
@needs_llama
def test_a_dpo_style_adapter_runs_on_llama_cpp(llama, tmp_path):
    from patchloop.core.backends.llamacpp_backend import STAGE_ADAPTER, LlamaCppBackend

    base = "".join(llama.generate(TASK, greedy(12)))

    def answer(folder: Path) -> str:
        stages = []
        backend = LlamaCppBackend(
            "embedded",
            adapter=str(folder),
            cache_dir=tmp_path,
            n_ctx=1024,
            batch_size=1,
            progress=stages.append,
        )
        try:
            assert backend.info.adapter == str(folder) and STAGE_ADAPTER in stages
            return "".join(backend.generate(TASK, greedy(12)))
        finally:
            backend.close()

    zero = write_adapter(tmp_path / "zero", layers=24, r=4, alpha=8, scale_b=0.0, dims=QWEN05_DIMS)
    assert answer(zero) == base  # B = 0: the adapter adds nothing
    strong = answer(write_adapter(tmp_path / "s1", layers=24, r=4, alpha=8, scale_b=3.0, dims=QWEN05_DIMS))
    assert strong != base
    # The same update written with half the alpha and twice B: peft's scale is folded in right.
    same = answer(write_adapter(tmp_path / "s2", layers=24, r=4, alpha=4, scale_b=6.0, dims=QWEN05_DIMS))
    assert same == strong


# ----------------------------------------------------------------------------- thread count


def test_the_thread_count_follows_the_cpu_other_processes_leave(monkeypatch):
    from patchloop.core.backends import cpu_share

    clock = {"wall": 0.0, "ours": 0.0, "busy": 0.0}
    monkeypatch.setattr(cpu_share.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(cpu_share.time, "process_time", lambda: clock["ours"])
    monkeypatch.setattr(cpu_share, "_machine_busy_seconds", lambda: clock["busy"])
    share = cpu_share.CpuShare(2)

    def after(seconds, ours, others):
        clock["wall"] += seconds
        clock["ours"] += ours
        clock["busy"] += ours + others
        return share.threads(current=2)

    assert after(1.0, ours=0.0, others=1.0) == 1  # another process holds a core: one thread
    assert after(1.0, ours=1.0, others=0.0) == 2  # our own work does not count against us
    assert after(1.0, ours=0.0, others=2.0) == 1  # never below one
    assert after(0.1, ours=0.0, others=0.0) == 2  # too short a window to tell: keep the current count
