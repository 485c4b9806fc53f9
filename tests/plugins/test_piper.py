"""Piper TTS: real joe-medium speech that Whisper reads back, streaming, cancellation, errors."""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
from typing import Any

import numpy as np
import pytest

from support.wer import wer
from voxline import tts
from voxline.audio import AudioFrame, combine_frames, rms_dbfs
from voxline.models import UnknownModelError
from voxline.plugins import espeak, piper, whisper
from voxline.plugins.piper._runtime import LoadedVoice

TEXT = "Sure. I can book a table for two people this evening. Would you like a window seat?"
LONG = " ".join(
    [
        "The museum opens at nine in the morning.",
        "Tickets can be bought at the front desk.",
        "Children under twelve enter for free.",
        "The cafe on the top floor serves lunch until three.",
        "Guided tours start every hour from the main hall.",
        "Please leave large bags in the cloakroom.",
    ]
)


@pytest.fixture(scope="module")
def voice() -> piper.TTS:
    model = piper.TTS()
    asyncio.run(model.load())
    return model


@pytest.fixture(scope="module")
def stt_model() -> whisper.STT:
    model = whisper.STT()
    asyncio.run(model.load())
    return model


async def render(model: tts.TTS, text: str) -> tuple[list[AudioFrame], list[float], float]:
    """The frames, each one's arrival time after the call, and the total time."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    frames: list[AudioFrame] = []
    arrivals: list[float] = []
    async for audio in model.synthesize(text):
        frames.append(audio.frame)
        arrivals.append(loop.time() - started)
    return frames, arrivals, loop.time() - started


@pytest.mark.models
async def test_speech_that_whisper_reads_back(voice: piper.TTS, stt_model: whisper.STT) -> None:
    await render(voice, "Hello.")  # the first call of a process pays for ONNX warm-up
    frames, arrivals, total = await render(voice, TEXT)
    audio = combine_frames(frames)
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(22050, 1)}
    # 20 ms frames; only the last frame of each sentence is shorter
    assert max(f.duration for f in frames) == pytest.approx(0.02, abs=1e-4)
    assert sum(f.duration < 0.0199 for f in frames) <= 3
    assert 3.0 < audio.duration < 9.0
    assert rms_dbfs(audio) > -30
    heard = (await stt_model.recognize(frames)).text
    print(
        f"\n[piper joe] first audio {arrivals[0] * 1000:.0f} ms, {audio.duration:.2f} s of audio "
        f"in {total:.2f} s (RTF {total / audio.duration:.3f}); whisper heard {heard!r}"
    )
    assert wer(TEXT, heard) < 0.25, heard


@pytest.mark.models
async def test_each_sentence_is_emitted_as_soon_as_it_is_rendered(voice: piper.TTS) -> None:
    _, arrivals, total = await render(voice, LONG)
    # six sentences rendered one after the other: the first plays long before the last is done
    assert arrivals[0] < total / 2, (arrivals[0], total)
    gaps = np.diff(arrivals)
    assert int(np.sum(gaps > 0.03)) >= 3  # bursts, one per sentence (each ~100+ ms of work)


@pytest.mark.models
async def test_cancelling_stops_the_synthesis_promptly(
    voice: piper.TTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    finished = threading.Event()
    original = LoadedVoice.synthesize

    def counting(self: LoadedVoice, text: str, **kwargs: Any) -> None:
        on_audio = kwargs.pop("on_audio")

        def counted(pcm: Any) -> None:
            calls.append(pcm.size)
            on_audio(pcm)

        try:
            original(self, text, on_audio=counted, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(LoadedVoice, "synthesize", counting)
    loop = asyncio.get_running_loop()
    stream = voice.synthesize(LONG * 3)  # 18 sentences, several seconds of work
    async for _ in stream:
        break
    started = loop.time()
    await stream.aclose()
    closed_in = loop.time() - started
    assert finished.is_set()  # the worker thread returned before aclose() did
    print(f"\n[piper] stopped {closed_in * 1000:.0f} ms after aclose(), {len(calls)}/18 sentences")
    assert closed_in < 0.5
    assert len(calls) < 6


@pytest.mark.models
async def test_speed_and_volume(voice: piper.TTS) -> None:
    sentence = "Guided tours start every hour from the main hall."
    normal = combine_frames((await render(voice, sentence))[0])
    fast_voice = piper.TTS(speed=2.0)
    quiet = combine_frames((await render(piper.TTS(volume=0.25), sentence))[0])
    # the voice draws random noise for its durations: compare medians of three renders
    normal_durations = [normal.duration]
    fast_durations = []
    for _ in range(2):
        normal_durations.append(combine_frames((await render(voice, sentence))[0]).duration)
    for _ in range(3):
        fast_durations.append(combine_frames((await render(fast_voice, sentence))[0]).duration)
    assert statistics.median(fast_durations) < statistics.median(normal_durations) * 0.7
    peak = int(np.max(np.abs(normal.data)))
    assert peak > 30000  # peak-normalised
    assert int(np.max(np.abs(quiet.data))) == pytest.approx(peak / 4, rel=0.02)


@pytest.mark.models
async def test_sentence_streaming_through_the_adapter(voice: piper.TTS) -> None:
    adapter = tts.StreamAdapter(tts=voice)
    stream = adapter.stream()
    for piece in [
        "Sure. I can book",
        " a table for two people",
        " this evening. Would you ",
        "like a window seat?",
    ]:
        stream.push_text(piece)
    stream.end_input()
    sentences = [audio.delta_text async for audio in stream if audio.delta_text]
    # the short opener goes out on its own, so the voice starts before the next sentence
    assert sentences == [
        "Sure.",
        "I can book a table for two people this evening.",
        "Would you like a window seat?",
    ]


async def test_blank_text_renders_nothing() -> None:
    model = piper.TTS()
    assert (await render(model, "  \n"))[0] == []


def test_unknown_voice_lists_the_choices() -> None:
    with pytest.raises(
        UnknownModelError, match=r"unknown Piper voice 'en_GB-alan'.*en_US-joe-medium"
    ):
        piper.TTS("en_GB-alan")


def test_missing_piper_tts_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # makes `import piper` fail
    with pytest.raises(piper.PiperNotInstalledError, match=r"pip install 'voxline\[piper\]'"):
        piper.TTS()
    assert not piper.piper_available()
    assert isinstance(piper.default_tts(), espeak.TTS)  # the local default falls back


def test_default_is_piper_when_installed() -> None:
    assert piper.piper_available()
    chosen = piper.default_tts()
    assert isinstance(chosen, piper.TTS)
    assert (chosen.sample_rate, chosen.num_channels) == (22050, 1)
    assert not chosen.capabilities.streaming  # the session streams it sentence by sentence


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"speed": 0.0}, "speed must be between"),
        ({"volume": -1.0}, "volume must be between"),
        ({"speaker": 1}, r"has 1 speaker\(s\)"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        piper.TTS(**options)


def test_importing_the_plugin_registers_its_download() -> None:
    from voxline.cli import downloads

    assert "local/piper-joe" in downloads.registered()


@pytest.mark.models
async def test_closing_the_sentence_stream_stops_the_sentence_being_rendered(
    voice: piper.TTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A barge-in while a sentence renders (before any of its audio exists) frees the core."""
    finished = threading.Event()
    original = LoadedVoice.synthesize

    def watched(self: LoadedVoice, text: str, **kwargs: Any) -> None:
        try:
            original(self, text, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(LoadedVoice, "synthesize", watched)
    stream = tts.StreamAdapter(tts=voice).stream()
    stream.push_text(LONG.replace(".", ",") + " and that is all for today.")  # one long sentence
    stream.end_input()

    async def consume() -> None:
        async for _ in stream:
            pass

    consumer = asyncio.get_running_loop().create_task(consume())
    await asyncio.sleep(0.05)
    assert not finished.is_set()
    await stream.aclose()
    assert finished.is_set()  # the ONNX call was terminated, not left to finish unseen
    await asyncio.wait([consumer])


async def count_synthesis(voice: piper.TTS, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the loaded voice is asked to render from now on (cache hits render none)."""
    loaded = await voice.load()
    calls: list[str] = []
    original = type(loaded).synthesize

    def counting(self: Any, text: str, **options: Any) -> Any:
        calls.append(text)
        return original(self, text, **options)

    monkeypatch.setattr(type(loaded), "synthesize", counting)
    return calls


@pytest.mark.models
async def test_a_short_phrase_is_rendered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    voice = piper.TTS(speed=1.01)  # options no other test uses: a cache of its own
    calls = await count_synthesis(voice, monkeypatch)
    first = combine_frames((await render(voice, "Sure."))[0])
    again = combine_frames((await render(voice, " Sure. "))[0])
    long = "This sentence is longer than a short opener."
    await render(voice, long)
    await render(voice, long)
    # the opener was synthesized once and replayed sample for sample; long ones every time
    assert calls == ["Sure.", long, long]
    assert np.array_equal(first.data, again.data) and first.duration > 0.2


@pytest.mark.models
async def test_prewarm_renders_the_openers_so_the_first_reply_costs_no_synthesis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    voice = piper.TTS(speed=0.99, warm_phrases=["Sure.", "Okay."])
    calls = await count_synthesis(voice, monkeypatch)
    voice.prewarm()
    voice.prewarm()  # once per TTS object
    assert voice._warming is not None
    await asyncio.to_thread(voice._warming.join, 30)
    assert voice.phrases == ["Sure.", "Okay."]
    frames, _, _ = await render(voice, "Sure.")
    assert calls == ["Sure.", "Okay."]  # rendered by the prewarm only
    assert combine_frames(frames).duration > 0.2
    # another session's TTS with the same voice and options shares them: nothing to render
    other = piper.TTS(speed=0.99, warm_phrases=["Sure.", "Okay."])
    other.prewarm()
    assert other._warming is not None
    await asyncio.to_thread(other._warming.join, 30)
    await render(other, "Okay.")
    assert calls == ["Sure.", "Okay."]
    assert piper.TTS(speed=0.98).phrases == []  # other options, other audio


def test_warm_phrases_must_fit_the_phrase_cache() -> None:
    with pytest.raises(ValueError, match="warm_phrases must be at most 24 characters"):
        piper.TTS(warm_phrases=["This opener is far too long to keep."])
