"""OpenAI models through the official `openai` package (the `openai` extra): `LLM` (chat
completions with streaming and native tools), `STT` (transcriptions) and `TTS` (speech).

`base_url=` (or $OPENAI_BASE_URL) points any of them at an OpenAI-compatible server; the key
comes from `api_key=` or $OPENAI_API_KEY. Model strings: `openai/gpt-4.1-mini` (llm),
`openai/gpt-4o-mini-transcribe` (stt), `openai/gpt-4o-mini-tts[:voice]` (tts).
"""

from __future__ import annotations

from typing import Any

from ...models import UnknownModelError
from ._client import API_KEY_ENV, MissingAPIKeyError
from .llm import LLM, LLMStream
from .stt import STT
from .tts import TTS

__all__ = ["API_KEY_ENV", "LLM", "STT", "TTS", "LLMStream", "MissingAPIKeyError", "create_model"]


def create_model(*, slot: str, model: str, variant: str | None) -> Any:
    """The model for a string `openai/<model>[:<variant>]` in `slot`; the TTS variant is the
    voice."""
    if slot == "llm":
        _no_variant(slot, model, variant)
        return LLM(model=model)
    if slot == "stt":
        _no_variant(slot, model, variant)
        return STT(model=model)
    if slot == "tts":
        return TTS(model=model, voice=variant or "alloy")
    raise UnknownModelError(f"the openai provider has no {slot!r} models; use llm, stt or tts")


def _no_variant(slot: str, model: str, variant: str | None) -> None:
    if variant is not None:
        raise UnknownModelError(f"{slot}='openai/{model}' takes no ':{variant}' variant")
