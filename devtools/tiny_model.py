"""Build a tiny Llama-architecture model with a Llama-3 chat template, for testing the real vLLM path on CPU.

No model can be downloaded in CI, so tests make one: a byte-level BPE tokenizer trained on synthetic
notes and a two-layer Llama with random weights. Its answers are junk, which is the point: the pipeline
must turn junk into well-formed rows with errors, while the recognizers still remove structured PHI.

    python -m devtools.tiny_model /tmp/tiny-llama
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from devtools.synthetic import synthetic_note
from medbatch.notes.llm.prompts import SYSTEM_PROMPT, phi_instruction

# The Llama-3 instruct template (as in Meta's and OpenBioLLM's tokenizer_config.json).
LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + "
    "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
SPECIAL_TOKENS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]


def build_tiny_llama(directory: Path, vocab_size: int = 4096, seed: int = 0) -> Path:
    """Write a tokenizer and a random-weight Llama to ``directory`` (idempotent) and return it."""
    if (directory / "config.json").exists():
        return directory
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    corpus = [synthetic_note(i).text for i in range(300)] + [SYSTEM_PROMPT, phi_instruction()]
    corpus += ['{"phi": [{"text": "x", "type": "NAME"}], "entities": [], "summary": ""}']
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|end_of_text|>",
    )
    tokenizer.chat_template = LLAMA3_CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        torch_dtype="float32",
    )
    LlamaForCausalLM(config).save_pretrained(directory, safe_serialization=True)
    (directory / "medbatch-tiny.json").write_text(json.dumps({"purpose": "tests only; random weights"}))
    return directory


if __name__ == "__main__":
    print(build_tiny_llama(Path(sys.argv[1])))
