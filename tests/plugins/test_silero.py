"""Silero VAD: the speech state machine (fast) and the real model on espeak-ng speech."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt
import pytest

from support.speech import espeak_pcm, join_with_silences
from voxline import Agent, AgentSession
from voxline.audio import AudioFrame, frames_from_array
from voxline.models import UnknownModelError, resolve_model
from voxline.plugins import silero
from voxline.plugins.silero._tracker import SpeechTracker, Transition, VADOptions
from voxline.testing import FakeActions, FakeLLM, FakeTTS
from voxline.vad import VADEvent, VADEventType
from voxline.voice.events import UserStateChangedEvent
from voxline.voice.io import AudioInput

W = 0.032  # one 16 kHz window


# ------------------------------------------------------------------ state machine


def _feed(tracker: SpeechTracker, probabilities: list[float]) -> list[tuple[int, Transition]]:
    out = []
    for i, p in enumerate(probabilities):
        t = tracker.update(p, W)
        if t is not None:
            out.append((i, t))
    return out


def test_speech_starts_after_min_speech_and_ends_after_min_silence() -> None:
    tracker = SpeechTracker(VADOptions(min_speech_duration=0.06, min_silence_duration=0.1))
    events = _feed(tracker, [0.1, 0.9, 0.2, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1])
    # one loud window then a quiet one resets the run; two in a row start speech
    assert events == [(4, Transition.STARTED), (9, Transition.ENDED)]  # 4 windows >= 0.1 s
    assert tracker.ended_speech_duration() == pytest.approx(3 * W)


def test_hysteresis_keeps_a_dip_between_the_thresholds_inside_speech() -> None:
    opts = VADOptions(
        min_speech_duration=0.0,
        min_silence_duration=0.06,
        activation_threshold=0.5,
        deactivation_threshold=0.3,
    )
    tracker = SpeechTracker(opts)
    events = _feed(tracker, [0.6, 0.4, 0.4, 0.4, 0.2, 0.6, 0.2, 0.2])
    assert events == [(0, Transition.STARTED), (7, Transition.ENDED)]
    # 0.4 would not have started speech either
    assert _feed(SpeechTracker(opts), [0.4, 0.4, 0.4]) == []


def test_durations_while_speaking() -> None:
    tracker = SpeechTracker(VADOptions(min_speech_duration=0.0, min_silence_duration=1.0))
    _feed(tracker, [0.9, 0.9, 0.9, 0.1, 0.1])
    assert tracker.speaking
    assert tracker.speech_duration == pytest.approx(3 * W)
    assert tracker.silence_run == pytest.approx(2 * W)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_rate": 44100}, "sample_rate must be 8000 or 16000"),
        ({"activation_threshold": 1.5}, "activation_threshold"),
        ({"activation_threshold": 0.5, "deactivation_threshold": 0.6}, "deactivation_threshold"),
        ({"min_silence_duration": -1.0}, "min_silence_duration"),
        ({"max_buffered_speech": 0.0}, "max_buffered_speech"),
    ],
)
def test_bad_options_are_rejected_before_loading(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        silero.VAD.load(**kwargs)  # type: ignore[arg-type]


def test_unknown_local_models_list_the_known_ones() -> None:
    with pytest.raises(UnknownModelError, match="known local vad models: local/silero"):
        resolve_model("local/webrtc", slot="vad")
    with pytest.raises(UnknownModelError, match="no variant"):
        resolve_model("local/silero:fast", slot="vad")
    with pytest.raises(UnknownModelError, match="smart-turn"):
        resolve_model("local/nope", slot="turn_detection")


# ------------------------------------------------------------------ real model

SENTENCES = [
    "Hello there, how are you today?",
    "I would like to book a table for two people.",
    "Thanks a lot.",
]
SILENCES = [1.0, 1.5, 2.0, 1.5]


@pytest.fixture(scope="module")
def vad() -> silero.VAD:
    return silero.VAD.load(progress=False)


def _speech(rate: int) -> tuple[npt.NDArray[np.int16], list[tuple[float, float]]]:
    return join_with_silences([espeak_pcm(s, rate=rate) for s in SENTENCES], SILENCES, rate)


async def _events(
    vad: silero.VAD, audio: npt.NDArray[np.int16], rate: int, *, frame_ms: int = 20
) -> list[VADEvent]:
    stream = vad.stream()
    for frame in frames_from_array(audio, rate, rate * frame_ms // 1000):
        stream.push_frame(frame)
    stream.end_input()
    events = [ev async for ev in stream]
    await stream.aclose()
    return events


def _segments(events: list[VADEvent], rate: int) -> list[tuple[float, float]]:
    """(start, end) of each segment in audio seconds, from the events' own durations."""
    out: list[tuple[float, float]] = []
    start = 0.0
    for ev in events:
        t = ev.samples_index / rate
        if ev.type is VADEventType.START_OF_SPEECH:
            start = t - ev.speech_duration
        elif ev.type is VADEventType.END_OF_SPEECH:
            out.append((start, t - ev.silence_duration))
    return out


@pytest.mark.models
@pytest.mark.parametrize(("input_rate", "model_rate"), [(48000, 16000), (16000, 8000)])
async def test_the_vad_finds_each_sentence(
    vad: silero.VAD, input_rate: int, model_rate: int
) -> None:
    audio, spans = _speech(input_rate)
    v = vad if model_rate == 16000 else silero.VAD.load(sample_rate=8000, progress=False)
    events = await _events(v, audio, input_rate)
    found = _segments(events, model_rate)
    assert len(found) == len(spans), found
    for (start, end), (true_start, true_end) in zip(found, spans, strict=True):
        assert start == pytest.approx(true_start, abs=0.12)
        assert end == pytest.approx(true_end, abs=0.2)
    kinds = [ev.type for ev in events if ev.type is not VADEventType.INFERENCE_DONE]
    assert kinds == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH] * 3
    # one inference per 32 ms window, each with a probability
    inferences = [ev for ev in events if ev.type is VADEventType.INFERENCE_DONE]
    assert len(inferences) == int(len(audio) / input_rate / 0.032)
    assert all(0.0 <= ev.probability <= 1.0 for ev in inferences)
    assert max(ev.probability for ev in inferences) > 0.9


@pytest.mark.models
async def test_events_carry_the_speech_audio(vad: silero.VAD) -> None:
    audio, spans = _speech(16000)
    events = await _events(vad, audio, 16000)
    starts = [ev for ev in events if ev.type is VADEventType.START_OF_SPEECH]
    ends = [ev for ev in events if ev.type is VADEventType.END_OF_SPEECH]
    # START: the prefix padding (0.5 s) and the speech heard so far
    assert starts[0].frames[0].duration == pytest.approx(0.5 + starts[0].speech_duration, abs=0.04)
    for ev, (start, end) in zip(ends, spans, strict=True):
        frame = ev.frames[0]
        assert frame.sample_rate == 16000 and frame.num_channels == 1
        # padding + speech + the silence that ended it
        expected = 0.5 + (end - start) + ev.silence_duration
        assert frame.duration == pytest.approx(expected, abs=0.25)
        assert ev.silence_duration == pytest.approx(0.55, abs=0.04)


@pytest.mark.models
async def test_update_options_applies_to_open_streams(vad: silero.VAD) -> None:
    audio, _ = _speech(16000)
    slow = silero.VAD(model=vad._model, opts=vad.options)
    slow.update_options(min_silence_duration=1.8)
    assert slow.options.min_silence_duration == 1.8
    found = _segments(await _events(slow, audio, 16000), 16000)
    # the 1.5 s gap no longer ends the first sentence; the 2.0 s one still does
    assert len(found) == 2
    slow.update_options(activation_threshold=0.8)
    assert slow.options.deactivation_threshold == pytest.approx(0.65)
    with pytest.raises(ValueError):
        slow.update_options(deactivation_threshold=0.9)


@pytest.mark.models
async def test_a_stream_ended_mid_speech_closes_its_segment(vad: silero.VAD) -> None:
    speech = espeak_pcm(SENTENCES[1])
    audio = np.concatenate([np.zeros(8000, np.int16), speech[: len(speech) // 2]])
    events = await _events(vad, audio, 16000)
    kinds = [ev.type for ev in events if ev.type is not VADEventType.INFERENCE_DONE]
    assert kinds == [VADEventType.START_OF_SPEECH, VADEventType.END_OF_SPEECH]


@pytest.mark.models
def test_the_model_is_loaded_once_per_process(vad: silero.VAD) -> None:
    again = silero.VAD.load(min_silence_duration=0.3, progress=False)
    assert again._model is vad._model
    assert resolve_model("local/silero", slot="vad")._model is vad._model


# ------------------------------------------------------------------ session default


class SpeechInput(AudioInput):
    """A sentence between silences, as fast as the session takes it."""

    def __init__(self, audio: npt.NDArray[np.int16], rate: int) -> None:
        self._frames = frames_from_array(audio, rate, rate // 50)
        self.done = asyncio.Event()

    async def _gen(self) -> AsyncIterator[AudioFrame]:
        for frame in self._frames:
            yield frame
            await asyncio.sleep(0)
        self.done.set()
        await asyncio.Event().wait()  # a microphone stays open

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._gen()


def _session(**kwargs: object) -> AgentSession[None]:
    actions = FakeActions()
    return AgentSession(llm=FakeLLM(actions), tts=FakeTTS(actions), **kwargs)  # type: ignore[arg-type]


@pytest.mark.models
async def test_a_session_with_audio_input_uses_silero_by_default(vad: silero.VAD) -> None:
    audio, _ = join_with_silences([espeak_pcm(SENTENCES[1], rate=24000)], [0.5, 1.0], 24000)
    session = _session()
    states: list[str] = []
    back_to_listening = asyncio.Event()

    def on_state(ev: UserStateChangedEvent) -> None:
        states.append(ev.new_state)
        if ev.new_state == "listening":
            back_to_listening.set()

    session.on("user_state_changed", on_state)
    source = SpeechInput(audio, 24000)
    session.input.audio = source
    await session.start(Agent(instructions="Listen."))
    try:
        assert isinstance(session.vad, silero.VAD)
        async with asyncio.timeout(30):
            await source.done.wait()
            await back_to_listening.wait()
        assert states == ["speaking", "listening"]
    finally:
        await session.aclose()


async def test_vad_none_or_no_audio_input_means_no_default_vad() -> None:
    explicit = _session(vad=None)
    explicit.input.audio = SpeechInput(np.zeros(1600, np.int16), 16000)
    await explicit.start(Agent(instructions="Listen."))
    assert explicit.vad is None
    await explicit.aclose()
    text_only = _session()
    await text_only.start(Agent(instructions="Listen."))
    assert text_only.vad is None
    await text_only.aclose()
