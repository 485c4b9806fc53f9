"""The `local` provider: model strings like "local/silero" for the offline plugins.

One table, slot -> model name -> factory(variant). Each plugin owns its rows; a factory
imports its plugin lazily, so resolving one string never loads another plugin's extra.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import UnknownModelError

__all__ = ["MODELS", "create_model", "known_models"]

Factory = Callable[[str | None], Any]


def _no_variant(slot: str, model: str, variant: str | None) -> None:
    if variant is not None:
        raise UnknownModelError(f"{slot}='local/{model}' has no variant {variant!r}")


# ------------------------------------------------------------------ vad (silero plugin)
def _silero(variant: str | None) -> Any:
    _no_variant("vad", "silero", variant)
    from .silero import VAD

    return VAD.load()


# --------------------------------------------------- turn_detection (turn_detector plugin)
def _smart_turn(variant: str | None) -> Any:
    _no_variant("turn_detection", "smart-turn", variant)
    from .turn_detector import SmartTurn

    return SmartTurn()


# ------------------------------------------------------------------ llm (llama plugin)
def _qwen(name: str) -> Factory:
    def factory(variant: str | None) -> Any:
        _no_variant("llm", name, variant)
        from .llama import LLM

        return LLM(model=name)

    return factory


MODELS: dict[str, dict[str, Factory]] = {
    "vad": {"silero": _silero},
    "turn_detection": {"smart-turn": _smart_turn},
    # STT plugin: "whisper-tiny.en", "whisper-base"
    "stt": {},
    "llm": {"qwen2.5-0.5b": _qwen("qwen2.5-0.5b"), "qwen2.5-1.5b": _qwen("qwen2.5-1.5b")},
    # TTS plugin: "piper-joe", "espeak"
    "tts": {},
}


def known_models(slot: str) -> list[str]:
    return [f"local/{name}" for name in MODELS.get(slot, {})]


def create_model(*, slot: str, model: str, variant: str | None) -> Any:
    factories = MODELS.get(slot)
    if factories is None:
        raise UnknownModelError(
            f"the local provider has no {slot!r} slot; slots: {', '.join(MODELS)}"
        )
    factory = factories.get(model)
    if factory is None:
        known = ", ".join(known_models(slot)) or "none"
        raise UnknownModelError(
            f"unknown local model {model!r} for {slot}=; known local {slot} models: {known}"
        )
    return factory(variant)
