"""stt.StreamAdapter: a batch STT plus a VAD behaves as a streaming STT."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from stt.scripted_vad import ScriptedVAD
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
from voxline.vad import VAD, VADEvent, VADEventType


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


# ------------------------------------------------------------------ early recognition


def _window(speech: bool) -> AudioFrame:
    return AudioFrame.create(16000, 1, 512)


def _inference(at: float, silence: float) -> tuple[float, VADEvent]:
    ev = VADEvent(
        VADEventType.INFERENCE_DONE, 0, at, 1.0, silence, [_window(silence == 0)], speaking=True
    )
    return at, ev


class SlowSTT(CountingSTT):
    """Takes 0.4 s per recognition and records how many samples each one got."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[int] = []
        self.started_at: list[float] = []
        self.origin = 0.0

    async def _recognize_impl(
        self, buffer: Sequence[AudioFrame], *, language: str | None, conn_options: APIConnectOptions
    ) -> SpeechEvent:
        self.started_at.append(asyncio.get_running_loop().time() - self.origin)
        self.samples.append(sum(f.samples_per_channel for f in buffer))
        await asyncio.sleep(0.4)
        return await super()._recognize_impl(buffer, language=language, conn_options=conn_options)


def _utterance(pause_at: float | None) -> list[tuple[float, VADEvent]]:
    """Speech from 0.1 s to 1.0 s (with a pause of 0.25 s at `pause_at`), then silence;
    the VAD declares the end after 0.55 s of silence, at 1.55 s."""
    start = VADEvent(VADEventType.START_OF_SPEECH, 0, 0.1, 0.1, 0.0, [_window(True)])
    script = [(0.1, start)]
    t, silence = 0.132, 0.0
    while t < 1.55:
        in_pause = pause_at is not None and pause_at <= t < pause_at + 0.25
        silence = silence + 0.032 if (t >= 1.0 or in_pause) else 0.0
        script.append(_inference(t, silence))
        t += 0.032
    end = VADEvent(VADEventType.END_OF_SPEECH, 0, 1.55, 0.9, 0.55, [_window(True)] * 20)
    script.append((1.55, end))
    return script


async def _finals(stt: SlowSTT, vad: VAD, early: float | None) -> list[float]:
    stream = StreamAdapter(stt=stt, vad=vad, early_recognition=early).stream()
    loop = asyncio.get_running_loop()
    stt.origin = loop.time()
    stream.push_frame(AudioFrame.create(16000, 1, 160))
    finals: list[float] = []

    async def read() -> None:
        async for ev in stream:
            if ev.type == SpeechEventType.FINAL_TRANSCRIPT:
                finals.append(round(loop.time() - stt.origin, 2))
            if ev.type == SpeechEventType.END_OF_SPEECH:
                return

    await asyncio.wait_for(read(), 5)
    await stream.aclose()
    return finals


@pytest.mark.virtual_time
async def test_early_recognition_overlaps_the_vad_hangover() -> None:
    late, early = SlowSTT(), SlowSTT()
    assert await _finals(late, ScriptedVAD(_utterance(None)), None) == [1.95]
    # recognition starts after 0.2 s of silence (at 1.22 s, before the VAD's end at 1.55 s)
    # and its result is the final: 0.33 s earlier than waiting for the end of speech
    assert await _finals(early, ScriptedVAD(_utterance(None)), 0.2) == [1.62]
    assert early.calls == 1 and early.started_at == [pytest.approx(1.22, abs=0.01)]


@pytest.mark.virtual_time
async def test_a_pause_drops_the_early_guess_and_the_final_covers_all_the_speech() -> None:
    stt = SlowSTT()
    finals = await _finals(stt, ScriptedVAD(_utterance(pause_at=0.4)), 0.2)
    # one dropped guess during the pause, then the one started after the real end
    assert len(stt.started_at) == 2 and stt.calls == 1
    assert stt.samples[1] > stt.samples[0]
    assert finals == [1.62]


def test_early_recognition_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="early_recognition"):
        StreamAdapter(stt=CountingSTT(), vad=ScriptedVAD([]), early_recognition=-0.1)
