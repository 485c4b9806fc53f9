"""The end-of-turn detector protocol: a model that says how likely the user is done.

Text models read the chat context; audio models also get the user's last seconds of audio.
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
