"""Turn-handling options: when a user turn ends, what interrupts the agent, preemptive replies.

Accepted as dataclasses or in LiveKit's dict form (`{"endpointing": {"min_delay": 0.3}}`);
agent-level keys override session-level keys one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Union

from typing_extensions import TypedDict

TurnDetectionMode = Literal["vad", "stt", "manual", "realtime_llm"]


@dataclass(frozen=True)
class EndpointingOptions:
    mode: Literal["fixed", "dynamic"] = "fixed"
    min_delay: float = 0.5
    """Silence after the last speech before a complete turn is committed."""
    max_delay: float = 3.0
    """Longest wait when the turn detector thinks the user is not done."""
    alpha: float = 0.9
    """Smoothing of the learned pause length in dynamic mode."""

    def __post_init__(self) -> None:
        if self.mode not in ("fixed", "dynamic"):
            raise ValueError(f"endpointing mode must be 'fixed' or 'dynamic', got {self.mode!r}")
        if self.min_delay < 0 or self.max_delay < 0:
            raise ValueError("endpointing delays must be >= 0")
        if self.max_delay < self.min_delay:
            raise ValueError(
                f"endpointing max_delay ({self.max_delay}) must be >= min_delay ({self.min_delay})"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"endpointing alpha must be within [0, 1], got {self.alpha}")


@dataclass(frozen=True)
class InterruptionOptions:
    enabled: bool = True
    mode: Literal["vad"] | None = None
    discard_audio_if_uninterruptible: bool = True
    min_duration: float = 0.5
    min_words: int = 0
    resume_false_interruption: bool = True
    false_interruption_timeout: float | None = 2.0

    def __post_init__(self) -> None:
        if self.min_duration < 0:
            raise ValueError("interruption min_duration must be >= 0")
        if self.min_words < 0:
            raise ValueError("interruption min_words must be >= 0")
        if self.false_interruption_timeout is not None and self.false_interruption_timeout < 0:
            raise ValueError("false_interruption_timeout must be >= 0 or None")


@dataclass(frozen=True)
class PreemptiveGenerationOptions:
    enabled: bool = False
    preemptive_tts: bool = False
    max_speech_duration: float = 10.0
    max_retries: int = 3


@dataclass(frozen=True)
class UserTurnLimitOptions:
    max_words: int | None = None
    max_duration: float | None = None


class EndpointingDict(TypedDict, total=False):
    mode: Literal["fixed", "dynamic"]
    min_delay: float
    max_delay: float
    alpha: float


class InterruptionDict(TypedDict, total=False):
    enabled: bool
    mode: Literal["vad"] | None
    discard_audio_if_uninterruptible: bool
    min_duration: float
    min_words: int
    resume_false_interruption: bool
    false_interruption_timeout: float | None


class PreemptiveDict(TypedDict, total=False):
    enabled: bool
    preemptive_tts: bool
    max_speech_duration: float
    max_retries: int


class UserTurnLimitDict(TypedDict, total=False):
    max_words: int | None
    max_duration: float | None


class TurnHandlingOptions(TypedDict, total=False):
    turn_detection: Any
    endpointing: Union[EndpointingDict, EndpointingOptions]
    interruption: Union[InterruptionDict, InterruptionOptions]
    preemptive_generation: Union[PreemptiveDict, PreemptiveGenerationOptions, bool]
    user_turn_limit: Union[UserTurnLimitDict, UserTurnLimitOptions]


@dataclass(frozen=True)
class ResolvedTurnHandling:
    """Turn options after defaults and overrides, plus which keys were given explicitly."""

    turn_detection: Any = None
    endpointing: EndpointingOptions = field(default_factory=EndpointingOptions)
    interruption: InterruptionOptions = field(default_factory=InterruptionOptions)
    preemptive_generation: PreemptiveGenerationOptions = field(
        default_factory=PreemptiveGenerationOptions
    )
    user_turn_limit: UserTurnLimitOptions = field(default_factory=UserTurnLimitOptions)


_KNOWN_KEYS = {
    "turn_detection",
    "endpointing",
    "interruption",
    "preemptive_generation",
    "user_turn_limit",
}


def _merge(base: Any, value: Any, cls: type, key: str) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, bool) and key == "preemptive_generation":
        return replace(base, enabled=value)
    if not isinstance(value, dict):
        raise TypeError(f"turn_handling[{key!r}] must be a dict or {cls.__name__}, got {value!r}")
    names = {f.name for f in fields(cls)}
    unknown = set(value) - names
    if unknown:
        raise ValueError(
            f"unknown turn_handling[{key!r}] option(s) {sorted(unknown)}; known: {sorted(names)}"
        )
    return replace(base, **value)


def resolve_turn_handling(
    *layers: TurnHandlingOptions | dict[str, Any] | None,
    base: ResolvedTurnHandling | None = None,
) -> ResolvedTurnHandling:
    """Apply layers in order (session, then agent); a later layer overrides per key."""
    out = base or ResolvedTurnHandling()
    for layer in layers:
        if not layer:
            continue
        unknown = set(layer) - _KNOWN_KEYS
        if unknown:
            raise ValueError(
                f"unknown turn_handling key(s) {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}"
            )
        if "turn_detection" in layer:
            out = replace(out, turn_detection=layer["turn_detection"])
        if "endpointing" in layer:
            out = replace(
                out,
                endpointing=_merge(
                    out.endpointing, layer["endpointing"], EndpointingOptions, "endpointing"
                ),
            )
        if "interruption" in layer:
            out = replace(
                out,
                interruption=_merge(
                    out.interruption, layer["interruption"], InterruptionOptions, "interruption"
                ),
            )
        if "preemptive_generation" in layer:
            out = replace(
                out,
                preemptive_generation=_merge(
                    out.preemptive_generation,
                    layer["preemptive_generation"],
                    PreemptiveGenerationOptions,
                    "preemptive_generation",
                ),
            )
        if "user_turn_limit" in layer:
            out = replace(
                out,
                user_turn_limit=_merge(
                    out.user_turn_limit,
                    layer["user_turn_limit"],
                    UserTurnLimitOptions,
                    "user_turn_limit",
                ),
            )
    return out
