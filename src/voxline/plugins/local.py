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


# ------------------------------------------------------------------ stt (whisper plugin)
def _whisper(name: str) -> Factory:
    """`local/whisper-base:fr`: the variant is the spoken language (English by default)."""

    def factory(variant: str | None) -> Any:
        from .whisper import STT

        return STT(name, language=variant or "en")

    return factory


# ------------------------------------------------------------ tts (piper and espeak plugins)
def _piper_joe(variant: str | None) -> Any:
    _no_variant("tts", "piper-joe", variant)
    from .piper import TTS

    return TTS("en_US-joe-medium")


def _espeak(variant: str | None) -> Any:
    """`local/espeak:en-gb`: the variant is an espeak-ng voice."""
    from .espeak import TTS

    return TTS(variant or "en-us")


def _default_tts(variant: str | None) -> Any:
    """Piper when its optional (GPL) extra is installed, else espeak-ng."""
    _no_variant("tts", "default", variant)
    from .piper import default_tts

    return default_tts()


MODELS: dict[str, dict[str, Factory]] = {
    "vad": {"silero": _silero},
    "turn_detection": {"smart-turn": _smart_turn},
    "stt": {"whisper-tiny.en": _whisper("tiny.en"), "whisper-base": _whisper("base")},
    "llm": {"qwen2.5-0.5b": _qwen("qwen2.5-0.5b"), "qwen2.5-1.5b": _qwen("qwen2.5-1.5b")},
    "tts": {"piper-joe": _piper_joe, "espeak": _espeak, "default": _default_tts},
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
