"""Checks and conversions for AgentSession's constructor, kept apart so the session itself
reads as behaviour. Bad options fail at construction, naming the option."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._types import NotGivenOr, is_given
from .text_transforms import resolve_text_transforms

BUILTIN_TEXT_TRANSFORMS = ("filter_markdown", "filter_emoji")


def validate_numbers(
    *,
    max_tool_steps: int,
    user_away_timeout: float | None,
    min_consecutive_speech_delay: float,
    aec_warmup_duration: float | None,
    transcription_timeout: float | None,
) -> None:
    if max_tool_steps < 1:
        raise ValueError(f"max_tool_steps must be >= 1, got {max_tool_steps}")
    if user_away_timeout is not None and user_away_timeout <= 0:
        raise ValueError("user_away_timeout must be > 0 or None")
    if min_consecutive_speech_delay < 0:
        raise ValueError("min_consecutive_speech_delay must be >= 0")
    if aec_warmup_duration is not None and aec_warmup_duration < 0:
        raise ValueError("aec_warmup_duration must be >= 0 or None")
    if transcription_timeout is not None and transcription_timeout <= 0:
        raise ValueError("transcription_timeout must be > 0 or None")


def flat_turn_layer(
    *,
    turn_detection: NotGivenOr[Any],
    preemptive_generation: NotGivenOr[bool],
    allow_interruptions: NotGivenOr[bool],
    discard_audio_if_uninterruptible: NotGivenOr[bool],
    min_interruption_duration: NotGivenOr[float],
    min_interruption_words: NotGivenOr[int],
    min_endpointing_delay: NotGivenOr[float],
    max_endpointing_delay: NotGivenOr[float],
    false_interruption_timeout: NotGivenOr[float | None],
    resume_false_interruption: NotGivenOr[bool],
) -> dict[str, Any]:
    """The flat keywords older code passes, as a `turn_handling` layer (only what was given)."""
    interruption = {
        key: value
        for key, value in (
            ("enabled", allow_interruptions),
            ("discard_audio_if_uninterruptible", discard_audio_if_uninterruptible),
            ("min_duration", min_interruption_duration),
            ("min_words", min_interruption_words),
            ("false_interruption_timeout", false_interruption_timeout),
            ("resume_false_interruption", resume_false_interruption),
        )
        if is_given(value)
    }
    endpointing = {
        key: value
        for key, value in (
            ("min_delay", min_endpointing_delay),
            ("max_delay", max_endpointing_delay),
        )
        if is_given(value)
    }
    layer: dict[str, Any] = {}
    if interruption:
        layer["interruption"] = interruption
    if endpointing:
        layer["endpointing"] = endpointing
    if is_given(preemptive_generation):
        layer["preemptive_generation"] = {"enabled": bool(preemptive_generation)}
    if is_given(turn_detection):
        layer["turn_detection"] = turn_detection
    return layer


def validate_text_transforms(value: NotGivenOr[Sequence[Any] | None]) -> list[Any] | None:
    """Names are checked now, so a typo fails at construction, not at the first reply."""
    if not is_given(value):
        return list(BUILTIN_TEXT_TRANSFORMS)
    if value is None:
        return None
    resolve_text_transforms(list(value))
    return list(value)
