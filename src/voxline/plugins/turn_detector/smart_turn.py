"""End of turn from the user's voice: Smart Turn v3.2 scores the last 8 s of audio.

The session calls `predict_end_of_turn(chat_ctx, audio=...)` when the user stops speaking,
with the audio it kept (the last 8 s, any rate and layout). A probability at or above
`unlikely_threshold` lets the turn end after `min_endpointing_delay`; below it the engine
waits `max_endpointing_delay` for more speech.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ...audio import AudioFrame, AudioResampler, combine_frames, remix_channels
from ...llm.chat_context import ChatContext
from ._features import SAMPLE_RATE
from ._model import executor, load_model

__all__ = ["SmartTurn", "TurnDetectorError"]


class TurnDetectorError(RuntimeError):
    pass


class SmartTurn:
    """Implements `voxline.voice.TurnDetector`. Cheap to create: the model is loaded once
    per process, in the background as soon as a detector is created inside a running loop
    (so the first decision does not pay for it), else on the first prediction."""

    def __init__(self, *, unlikely_threshold: float = 0.5, progress: bool = True) -> None:
        if not math.isfinite(unlikely_threshold) or not 0.0 < unlikely_threshold < 1.0:
            raise ValueError(
                f"unlikely_threshold must be between 0 and 1, got {unlikely_threshold!r}"
            )
        self._threshold = unlikely_threshold
        self._progress = progress
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            # queued on the inference thread, so a prediction made meanwhile waits for it
            executor().submit(load_model, progress=progress)

    @classmethod
    def load(cls, *, unlikely_threshold: float = 0.5, progress: bool = True) -> SmartTurn:
        """Create a detector with the model already loaded (blocking: for prewarm hooks)."""
        load_model(progress=progress)
        return cls(unlikely_threshold=unlikely_threshold, progress=progress)

    @property
    def unlikely_threshold(self) -> float:
        return self._threshold

    # the session may score a turn as soon as the user stops speaking: no transcript needed
    audio_only = True

    @property
    def label(self) -> str:
        return "local/smart-turn"

    async def predict_end_of_turn(
        self, chat_ctx: ChatContext, *, audio: list[AudioFrame] | None = None
    ) -> float:
        if not audio:
            raise TurnDetectorError(
                "the Smart Turn detector scores the user's audio, and none was given"
            )
        samples = to_model_audio(audio)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor(), self._predict, samples)

    def _predict(self, samples: npt.NDArray[np.float32]) -> float:
        return load_model(progress=self._progress).probability(samples)


def to_model_audio(frames: Sequence[AudioFrame]) -> npt.NDArray[np.float32]:
    """Mono 16 kHz float samples of `frames`; when the input format changed on the way,
    only the audio since the change is kept."""
    last = frames[-1]
    start = len(frames)
    while start > 0 and (
        frames[start - 1].sample_rate == last.sample_rate
        and frames[start - 1].num_channels == last.num_channels
    ):
        start -= 1
    frame = remix_channels(combine_frames(list(frames[start:])), 1)
    if frame.sample_rate != SAMPLE_RATE:
        resampler = AudioResampler(frame.sample_rate, SAMPLE_RATE, quality="HQ")
        parts = [*resampler.push(frame), *resampler.flush()]
        frame = combine_frames(parts) if parts else AudioFrame.create(SAMPLE_RATE, 1, 0)
    return frame.to_float32().reshape(-1)
