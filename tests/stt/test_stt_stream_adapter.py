"""stt.StreamAdapter: a batch STT plus a VAD behaves as a streaming STT."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from voxline._types import APIConnectOptions
from voxline.audio import AudioFrame
from voxline.stt import (
    STT,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    StreamAdapter,
    STTCapabilities,
)
from voxline.testing import FakeActions
from voxline.testing.fakes import FakeVAD


class CountingSTT(STT):
    """Batch STT that 'recognizes' how much audio it got."""

    def __init__(self) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=False, interim_results=False))
        self.calls = 0

    async def _recognize_impl(
        self, buffer: Sequence[AudioFrame], *, language: str | None, conn_options: APIConnectOptions
    ) -> SpeechEvent:
        self.calls += 1
        return SpeechEvent(
            SpeechEventType.FINAL_TRANSCRIPT,
            [SpeechData(language="en", text=f"utterance {self.calls}")],
        )


class FramesVAD(FakeVAD):
    """FakeVAD that also hands the speech frames over at end of speech."""

    def stream(self):  # type: ignore[no-untyped-def]
        stream = super().stream()
        original = stream._emit

        def emit(ev):  # type: ignore[no-untyped-def]
            if ev.type.value == "end_of_speech":
                ev.frames = [AudioFrame.create(16000, 1, 1600)]
            original(ev)

        stream._emit = emit  # type: ignore[method-assign]
        return stream


@pytest.mark.virtual_time
async def test_batch_stt_streams_one_final_per_utterance() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.0, "x")
    actions.add_user_speech(2.0, 3.0, "y")
    batch = CountingSTT()
    stream = StreamAdapter(stt=batch, vad=FramesVAD(actions)).stream()
    events: list[tuple[float, SpeechEventType, str]] = []

    async def read() -> None:
        async for ev in stream:
            events.append((round(asyncio.get_running_loop().time(), 2), ev.type, ev.text))

    reader = asyncio.get_running_loop().create_task(read())
    for _ in range(80):
        stream.push_frame(AudioFrame.create(16000, 1, 800))
        await asyncio.sleep(0.05)
    stream.end_input()
    await reader
    assert events == [
        (0.55, SpeechEventType.START_OF_SPEECH, ""),
        (1.5, SpeechEventType.FINAL_TRANSCRIPT, "utterance 1"),
        (1.5, SpeechEventType.END_OF_SPEECH, ""),
        (2.05, SpeechEventType.START_OF_SPEECH, ""),
        (3.5, SpeechEventType.FINAL_TRANSCRIPT, "utterance 2"),
        (3.5, SpeechEventType.END_OF_SPEECH, ""),
    ]
    assert batch.calls == 2


async def test_a_batch_stt_explains_it_needs_the_adapter() -> None:
    with pytest.raises(NotImplementedError, match="StreamAdapter"):
        CountingSTT().stream()
