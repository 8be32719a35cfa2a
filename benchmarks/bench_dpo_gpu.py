"""QLoRA DPO on a CUDA GPU through patchloop's own training path: peak GPU memory and pairs/s.

The model has the architecture of Qwen2.5-Coder-7B-Instruct (the paper's model) with random
weights, built on the GPU and saved once to a local folder, so no weights have to be downloaded:
the speed and memory of a training step do not depend on the weights' values. The folder is then
loaded exactly as `patchloop train dpo --model FOLDER` loads a model (4-bit NF4 through
bitsandbytes, LoRA through peft, TRL's DPOTrainer, the frozen base as the reference).

Needs a CUDA GPU, bitsandbytes, trl and peft, and a Qwen2.5 tokenizer folder (any Qwen2.5 model
folder, e.g. the prepared embedded model: `patchloop model prepare` then its cache folder).

    python benchmarks/bench_dpo_gpu.py --tokenizer QWEN_TOKENIZER_DIR --json-out result.json
    python benchmarks/bench_dpo_gpu.py --model EXISTING_MODEL_DIR --pairs pairs.jsonl

Without --pairs it trains on synthetic MBPP-style pairs (a task prompt; a clean and a flagged
solution of a few hundred tokens each), which is the shape of the pairs the log gives.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import time
from pathlib import Path

QWEN25_CODER_7B = {  # Qwen/Qwen2.5-Coder-7B-Instruct config.json
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "pad_token_id": 151643,
}

TASKS = [
    (
        "Write a function to run a shell command given by the user and return its exit code.",
        "import subprocess\n\n\ndef run(cmd: list[str]) -> int:\n    return subprocess.call(cmd)",
        "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)",
    ),
    (
        "Write a function to load a configuration object from a file path.",
        "import json\n\n\ndef load(path: str) -> dict:\n    with open(path, encoding='utf-8') as f:\n        return json.load(f)",
        "import pickle\n\n\ndef load(path):\n    return pickle.load(open(path, 'rb'))",
    ),
    (
        "Write a function to hash a password for storage.",
        (
            "import hashlib\nimport os\n\n\ndef hash_password(password: str) -> bytes:\n    salt = os.urandom(16)\n"
            "    return salt + hashlib.pbkdf2_hmac('sha256', password.encode(), salt, 100_000)"
        ),
        "import hashlib\n\n\ndef hash_password(password):\n    return hashlib.md5(password.encode()).hexdigest()",
    ),
    (
        "Write a function to evaluate a simple arithmetic expression given as a string.",
        (
            "import ast\nimport operator\n\nOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}\n\n\n"
            "def evaluate(text: str) -> float:\n    def walk(node):\n        if isinstance(node, ast.Constant):\n"
            "            return node.value\n        if isinstance(node, ast.BinOp) and type(node.op) in OPS:\n"
            "            return OPS[type(node.op)](walk(node.left), walk(node.right))\n"
            "        raise ValueError('unsupported expression')\n    return walk(ast.parse(text, mode='eval').body)"
        ),
        "def evaluate(text):\n    return eval(text)",
    ),
]
SYSTEM = (
    "You are a careful senior software engineer. Write correct, secure, idiomatic python code.\n"
    "Answer with one complete python code block (```python ... ```) containing the whole solution."
)
FILLER = (
    '\n\n\ndef helper_{i}(values: list[int]) -> list[int]:\n    """Keep the positive values, in order."""\n'
    "    result = []\n    for value in values:\n        if value > 0:\n            result.append(value)\n"
    "    return result"
)


def synthetic_pairs(n: int, helpers: int) -> list[dict]:
    """n pairs cycling over TASKS; ``helpers`` extra functions in both answers set the length."""
    rows = []
    for k in range(n):
        text, good, bad = TASKS[k % len(TASKS)]
        extra = "".join(FILLER.format(i=i) for i in range(helpers))
        rows.append(
            {
                "prompt": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"{text} (case {k})"},
                ],
                "chosen": [{"role": "assistant", "content": f"```python\n{good}{extra}\n```"}],
                "rejected": [{"role": "assistant", "content": f"```python\n{bad}{extra}\n```"}],
            }
        )
    return rows


def build_random_model(dest: Path, tokenizer_dir: Path) -> float:
    """Save a random-weight Qwen2.5-Coder-7B-shaped model (bf16) and the tokenizer to ``dest``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    started = time.monotonic()
    config = Qwen2Config(**QWEN25_CODER_7B)
    torch.manual_seed(0)
    with torch.device("cuda"):  # random init on the GPU: seconds, where the CPU would take minutes
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(dest, max_shard_size="5GB")
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(dest)
    del model
    torch.cuda.empty_cache()
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, help="an existing model folder (skips building the random 7B model)"
    )
    parser.add_argument("--tokenizer", type=Path, help="Qwen2.5 tokenizer folder (to build the random model)")
    parser.add_argument("--build-dir", type=Path, default=Path("/tmp/patchloop-bench-qwen7b-random"))
    parser.add_argument("--pairs", type=Path, help="pairs JSONL (default: synthetic MBPP-style pairs)")
    parser.add_argument("--n-pairs", type=int, default=64)
    parser.add_argument(
        "--helpers", type=int, default=4, help="length of synthetic answers (extra functions)"
    )
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--grad-accum", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--no-checkpointing", action="store_true", help="turn gradient checkpointing off")
    parser.add_argument("--out", type=Path, default=Path("/tmp/patchloop-bench-adapter"))
    parser.add_argument("--json-out", type=Path, help="write the result as JSON here too")
    args = parser.parse_args(argv)

    import torch
    from patchloop.train.dpo import DPOSettings, load_base, train_dpo
    from patchloop.train.pairs import load_pairs, records_dataset

    if not torch.cuda.is_available():
        print("needs a CUDA GPU", file=sys.stderr)
        return 2
    result: dict = {
        "date": datetime.date.today().isoformat(),
        "gpu": torch.cuda.get_device_name(0),
        "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
        "torch": torch.__version__,
        "command": " ".join(sys.argv),
    }
    model_dir = args.model
    if model_dir is None:
        if args.tokenizer is None:
            parser.error("give --tokenizer (to build the random 7B model) or --model")
        shutil.rmtree(args.build_dir, ignore_errors=True)
        result["build_seconds"] = round(build_random_model(args.build_dir, args.tokenizer), 1)
        result["architecture"] = {
            k: QWEN25_CODER_7B[k]
            for k in (
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "intermediate_size",
                "vocab_size",
            )
        }
        model_dir = args.build_dir
        print(f"built the random 7B model in {result['build_seconds']}s", flush=True)

    dataset = (
        load_pairs(args.pairs) if args.pairs else records_dataset(synthetic_pairs(args.n_pairs, args.helpers))
    )
    settings = DPOSettings(
        device="cuda",
        load_in_4bit=True,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        max_length=args.max_length,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        epochs=args.epochs,
        gradient_checkpointing=not args.no_checkpointing,
    )
    started = time.monotonic()
    handle = load_base(str(model_dir), device="cuda", load_in_4bit=True, progress=print)
    result["load_seconds"] = round(time.monotonic() - started, 1)
    result["memory_after_load_gib"] = round(torch.cuda.memory_allocated() / 2**30, 3)
    lengths = [
        len(handle.tokenizer.apply_chat_template(r["prompt"] + r["chosen"], tokenize=False))
        for r in dataset.select(range(min(8, len(dataset))))
    ]
    ids = [
        len(
            handle.tokenizer(handle.tokenizer.apply_chat_template(r["prompt"] + r["chosen"], tokenize=False))[
                "input_ids"
            ]
        )
        for r in dataset.select(range(min(8, len(dataset))))
    ]
    result["sequence_tokens_mean"] = round(sum(ids) / len(ids), 1)
    result["sequence_chars_mean"] = round(sum(lengths) / len(lengths), 1)
    trained = train_dpo(
        dataset,
        args.out,
        settings,
        handle=handle,
        data_info={"kind": "synthetic" if not args.pairs else str(args.pairs)},
    )
    metrics = trained.metrics
    result.update(
        {
            "pairs": len(dataset),
            "settings": trained.record["settings"],
            "steps": metrics["steps"],
            "train_seconds": metrics["train_seconds"],
            "pairs_per_second": metrics["pairs_per_second"],
            "steady_pairs_per_second": metrics["steady_pairs_per_second"],
            "peak_gpu_memory_gib": metrics["peak_gpu_memory_gib"],
            "peak_gpu_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3),
            "loss_first": metrics["first"]["loss"] if metrics["first"] else None,
            "loss_last": metrics["last"]["loss"] if metrics["last"] else None,
            "finite": metrics["finite"],
            "quantization": trained.record["quantization"],
            "versions": trained.record["versions"],
        }
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
