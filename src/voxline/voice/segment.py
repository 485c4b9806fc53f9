"""One segment of a reply on its way to speech.

The text is teed to the TTS and to the transcript. The TTS runs as soon as the segment
exists (before authorization when preemptive TTS is on); its frames wait in a buffer until
the speech may play, so nothing reaches the output early.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from .._utils.aio import Chan, cancel_and_wait, now
from ..audio import AudioFrame
from .text_transforms import apply_text_transforms

if TYPE_CHECKING:
    from .agent import Agent, ModelSettings


class SegmentPipeline:
    def __init__(
        self,
        agent: Agent,
        text: Chan[str],
        settings: ModelSettings,
        *,
        synthesize: bool,
        audio: AsyncIterable[AudioFrame] | None = None,
        text_transforms: Sequence[Any] | None = None,
    ) -> None:
        self._text_transforms = text_transforms
        self.text_parts: list[str] = []
        self.transcript: Chan[str] = Chan()
        self.frames: Chan[AudioFrame] = Chan()
        self.first_text_at: float | None = None
        self.text_done_at: float | None = None
        self.first_frame_at: float | None = None
        self.error: BaseException | None = None
        self._tts_input: Chan[str] = Chan()
        loop = asyncio.get_running_loop()
        self.reader = loop.create_task(self._read(text), name="segment_text")
        self._tts_task: asyncio.Task[None] | None = None
        if synthesize:
            self._tts_task = loop.create_task(
                self._synthesize(agent, settings, audio), name="segment_tts"
            )

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    @property
    def tts_ttfb(self) -> float | None:
        """From the text handed to the TTS to its first audio."""
        if self.first_frame_at is None:
            return None
        anchor = self.text_done_at
        if anchor is None or anchor > self.first_frame_at:
            anchor = self.first_text_at or self.first_frame_at
        return max(0.0, self.first_frame_at - anchor)

    async def _read(self, text: Chan[str]) -> None:
        try:
            async for piece in text:
                if self.first_text_at is None:
                    self.first_text_at = now()
                self.text_parts.append(piece)
                self._tts_input.send_nowait(piece)
                self.transcript.send_nowait(piece)
        finally:
            self.text_done_at = now()
            self._tts_input.close()
            self.transcript.close()

    async def _tts_text(self) -> AsyncIterator[str]:
        async for piece in self._tts_input:
            yield piece

    async def _synthesize(
        self, agent: Agent, settings: ModelSettings, audio: AsyncIterable[AudioFrame] | None
    ) -> None:
        try:
            # the TTS hears the transformed text (no markdown, no emoji); the transcript and
            # the committed message keep what the model wrote for the user to read
            spoken = apply_text_transforms(self._tts_text(), self._text_transforms)
            frames = audio if audio is not None else agent.tts_node(spoken, settings)
            if frames is None:
                return
            async for frame in frames:
                if self.first_frame_at is None:
                    self.first_frame_at = now()
                self.frames.send_nowait(frame)
        except Exception as e:
            if not hasattr(e, "_voxline_source"):
                e._voxline_source = "tts"  # type: ignore[attr-defined]
            self.error = e
        finally:
            self.frames.close()

    async def iter_frames(self) -> AsyncIterator[AudioFrame]:
        async for frame in self.frames:
            yield frame
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        await cancel_and_wait(self.reader, self._tts_task)
