"""When speech starts and ends, from one speech probability per window: a pure state machine.

Hysteresis keeps a word gap or a soft consonant from splitting a sentence: speech starts when
the probability stays at or above `activation_threshold` for `min_speech_duration`, and ends
when it stays below `deactivation_threshold` for `min_silence_duration`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class VADOptions:
    min_speech_duration: float = 0.05
    min_silence_duration: float = 0.55
    prefix_padding_duration: float = 0.5
    max_buffered_speech: float = 60.0
    activation_threshold: float = 0.5
    deactivation_threshold: float = 0.35
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        for name in ("min_speech_duration", "min_silence_duration", "prefix_padding_duration"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not math.isfinite(self.max_buffered_speech) or self.max_buffered_speech <= 0:
            raise ValueError(f"max_buffered_speech must be > 0, got {self.max_buffered_speech!r}")
        if not 0.0 < self.activation_threshold < 1.0:
            raise ValueError(
                f"activation_threshold must be between 0 and 1, got {self.activation_threshold!r}"
            )
        if not 0.0 < self.deactivation_threshold <= self.activation_threshold:
            raise ValueError(
                "deactivation_threshold must be > 0 and <= activation_threshold "
                f"({self.activation_threshold}), got {self.deactivation_threshold!r}"
            )
        if self.sample_rate not in (8000, 16000):
            raise ValueError(f"sample_rate must be 8000 or 16000, got {self.sample_rate!r}")


def default_deactivation(activation_threshold: float) -> float:
    return max(activation_threshold - 0.15, 0.01)


class Transition(enum.Enum):
    STARTED = "started"
    ENDED = "ended"


class SpeechTracker:
    """Feed `update(probability, seconds)` per window; read the durations after each call."""

    def __init__(self, opts: VADOptions) -> None:
        self.opts = opts
        self.speaking = False
        self.speech_run = 0.0  # while silent: consecutive seconds above activation
        self.silence_run = 0.0  # while speaking: consecutive seconds below deactivation
        self.elapsed = 0.0  # while speaking: seconds since the speech onset

    @property
    def speech_duration(self) -> float:
        """Seconds of speech in the current segment (trailing silence excluded)."""
        if self.speaking:
            return max(self.elapsed - self.silence_run, 0.0)
        return self.speech_run

    def update(self, probability: float, seconds: float) -> Transition | None:
        opts = self.opts
        if not self.speaking:
            if probability >= opts.activation_threshold:
                self.speech_run += seconds
                if self.speech_run >= opts.min_speech_duration - 1e-9:
                    self.speaking = True
                    self.elapsed = self.speech_run
                    self.silence_run = 0.0
                    return Transition.STARTED
            else:
                self.speech_run = 0.0
            return None
        self.elapsed += seconds
        if probability >= opts.deactivation_threshold:
            self.silence_run = 0.0
            return None
        self.silence_run += seconds
        if self.silence_run >= opts.min_silence_duration - 1e-9:
            self.speaking = False
            self.speech_run = 0.0
            return Transition.ENDED
        return None

    def ended_speech_duration(self) -> float:
        """After ENDED: the speech of the segment that just ended."""
        return max(self.elapsed - self.silence_run, 0.0)
