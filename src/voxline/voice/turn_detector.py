"""The end-of-turn detector protocol: a model that says how likely the user is done.

Text models read the chat context; audio models also get the user's last seconds of audio.
A detector with a true `audio_only` attribute reads nothing but the audio: the session then
asks it as soon as the user stops speaking, while the STT is still at work, and uses that
verdict when the transcript arrives (unless the user spoke again in between).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..audio import AudioFrame
from ..llm.chat_context import ChatContext


@runtime_checkable
class TurnDetector(Protocol):
    @property
    def unlikely_threshold(self) -> float:
        """Below this probability the turn is treated as not finished (use max_delay)."""
        ...

    async def predict_end_of_turn(
        self, chat_ctx: ChatContext, *, audio: list[AudioFrame] | None = None
    ) -> float: ...
