"""A tiny random Qwen2 and its tokenizer, built offline in about a second: a byte-level BPE trained
here on a few lines of Python, with Qwen's special tokens and a ChatML (Qwen-style) chat template.
It writes garbage, which is all the backend mechanics tests need. Used by conftest.py's fixtures and
by the tests that serve a model of their own.
"""

from __future__ import annotations

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


def build_tiny_model(
    vocab_size: int,
    eos_ids: list[int],
    pad_id: int,
    seed: int = 0,
    *,
    hidden_size: int = 64,
    initializer_range: float = 0.2,
):
    """A random two-layer Qwen2ForCausalLM small enough to generate hundreds of tokens a second on CPU.

    ``initializer_range`` is larger than the default 0.02 so the random logits are peaked, not a
    near-tie among hundreds of tokens: greedy decoding then does not hinge on float rounding.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        initializer_range=initializer_range,
        eos_token_id=eos_ids[0],
        pad_token_id=pad_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = eos_ids
    model.generation_config.pad_token_id = pad_id
    return model.eval()
