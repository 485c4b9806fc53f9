"""Metrics and error payloads, built from what a reply measured."""

from __future__ import annotations

from typing import Any, Literal

from .._utils.aio import now
from ..llm.llm import LLMError
from ..stt.stt import STTError
from ..tts.tts import TTSError
from .events import LLMMetrics, TTSMetrics

ModelKind = Literal["stt", "llm", "tts"]


def llm_metrics(gen: Any, *, speech_id: str, cancelled: bool) -> LLMMetrics | None:
    """None when the model produced nothing worth measuring (an empty, instant answer)."""
    if gen.ttft is None and not gen.tool_calls:
        return None
    end = gen.finished_at or now()
    return LLMMetrics(
        timestamp=now(),
        request_id=speech_id,
        ttft=gen.ttft or 0.0,
        duration=end - gen.started_at,
        cancelled=cancelled,
        speech_id=speech_id,
    )


def tts_metrics(
    text: str, state: Any, *, ttfb: float | None, cancelled: bool, speech_id: str
) -> TTSMetrics | None:
    if state.first_frame_at is None:
        return None
    return TTSMetrics(
        timestamp=now(),
        request_id=speech_id,
        ttfb=ttfb or 0.0,
        duration=now() - state.first_frame_at,
        audio_duration=state.pushed_duration,
        characters_count=len(text),
        cancelled=cancelled,
        streamed=True,
        speech_id=speech_id,
    )


def model_kind(error: BaseException, source: Any) -> ModelKind | None:
    """Which model failed: replies tag their errors; recognition reports as "stt"."""
    kind: object = getattr(error, "_voxline_source", source if isinstance(source, str) else "llm")
    for known in ("stt", "llm", "tts"):
        if kind == known:
            return known
    return None


def error_payload(error: BaseException, kind: ModelKind | None, label: str) -> Any:
    """Errors reach the session after the model's own retries: they are not recoverable."""
    common: dict[str, Any] = {"timestamp": now(), "error": error, "recoverable": False}
    if kind == "stt":
        return STTError(label=label, **common)
    if kind == "tts":
        return TTSError(label=label, **common)
    if kind == "llm":
        return LLMError(label=label, **common)
    return error
