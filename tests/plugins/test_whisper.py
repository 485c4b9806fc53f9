"""Whisper STT: real tiny.en transcriptions of espeak-ng speech, input handling, errors."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, ClassVar

import numpy as np
import pytest

from support.speech import espeak_pcm
from support.wer import wer
from voxline import stt
from voxline.audio import AudioFrame, AudioResampler, split_frame
from voxline.models import UnknownModelError
from voxline.plugins import whisper
from voxline.plugins.whisper._input import whisper_input
from voxline.plugins.whisper._runtime import LoadedWhisper, ModelKey

SENTENCES = [
    "The weather is lovely today, so we should go for a walk in the park.",
    "Please send me the report before the meeting on Friday.",
    "Could you turn off the lights in the kitchen?",
    "What time does the train leave for London?",
    "Can you tell me a joke about computers?",
    "I need to change my password because I forgot it.",
]


def frame_of(pcm: np.ndarray[Any, Any], rate: int = 16000, channels: int = 1) -> AudioFrame:
    return AudioFrame(pcm, rate, channels, pcm.size // channels)


@pytest.fixture(scope="module")
def tiny() -> whisper.STT:
    model = whisper.STT()
    asyncio.run(model.load())  # once per module; the per-process cache keeps it for the rest
    return model


# ------------------------------------------------------------------ real model


@pytest.mark.models
async def test_transcribes_espeak_sentences_under_25_percent_wer(tiny: whisper.STT) -> None:
    loop = asyncio.get_running_loop()
    heard: list[str] = []
    seconds: list[float] = []
    audio = 0.0
    for sentence in SENTENCES:
        frame = frame_of(espeak_pcm(sentence))
        audio += frame.duration
        started = loop.time()
        event = await tiny.recognize(split_frame(frame, 320))
        seconds.append(loop.time() - started)
        assert event.type == stt.SpeechEventType.FINAL_TRANSCRIPT
        assert event.alternatives[0].language == "en"
        assert 0.0 < event.alternatives[0].confidence <= 1.0
        heard.append(event.text)
    error_rate = wer(SENTENCES, heard)
    print(
        f"\n[whisper tiny.en] WER {error_rate:.1%} on {len(SENTENCES)} espeak sentences; "
        f"{sum(seconds) / len(seconds):.2f} s per utterance (min {min(seconds):.2f}, "
        f"max {max(seconds):.2f}), RTF {sum(seconds) / audio:.2f}"
    )
    for sentence, text in zip(SENTENCES, heard):
        print(f"  {sentence!r} -> {text!r}")
    assert error_rate < 0.25, heard


@pytest.mark.models
async def test_any_input_rate_and_channel_count(tiny: whisper.STT) -> None:
    sentence = "Please send me the report before the meeting on Friday."
    pcm = espeak_pcm(sentence, rate=44100)
    stereo = np.repeat(pcm, 2)  # interleaved L/R
    event = await tiny.recognize(split_frame(frame_of(stereo, 44100, 2), 441))
    assert wer(sentence, event.text) < 0.25, event.text

    wideband = espeak_pcm(sentence, rate=24000)
    event = await tiny.recognize([frame_of(wideband, 24000)])
    assert wer(sentence, event.text) < 0.25, event.text

    # telephone band: everything above 4 kHz (most of "s", "f", "th") is gone, so a looser bound
    narrowband = espeak_pcm(sentence, rate=8000)
    event = await tiny.recognize([frame_of(narrowband, 8000)])
    assert wer(sentence, event.text) < 0.5, event.text


@pytest.mark.models
async def test_the_model_is_loaded_once_and_shared(tiny: whisper.STT) -> None:
    other = whisper.STT("tiny.en")
    assert await other.load() is await tiny.load()
    different = whisper.STT("tiny.en", cpu_threads=2)
    assert different._key != tiny._key  # another thread count is another model instance


# ------------------------------------------------------------------ input handling


async def test_empty_and_short_audio_give_an_empty_final_without_a_model() -> None:
    # "base" is not loaded by this module: an empty transcript proves no model was needed
    model = whisper.STT("base", language=None)
    for buffer in (
        [],
        [AudioFrame.create(16000, 1, 0)],
        [frame_of((np.random.default_rng(1).normal(0, 3000, 800)).astype(np.int16))],  # 50 ms
        [AudioFrame.create(48000, 2, 48000)],  # a second of digital silence
    ):
        event = await model.recognize(buffer)
        assert event.type == stt.SpeechEventType.FINAL_TRANSCRIPT
        assert event.text == ""
    from voxline.plugins.whisper._runtime import loaded_whisper

    assert loaded_whisper(model._key) is None


def test_input_is_resampled_to_16k_mono_float_even_across_a_rate_change() -> None:
    t = np.arange(48000) / 48000
    tone48 = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    t8 = np.arange(8000) / 8000
    tone8 = (np.sin(2 * np.pi * 440 * t8) * 10000).astype(np.int16)
    frames = [*split_frame(frame_of(np.repeat(tone48, 2), 48000, 2), 480), frame_of(tone8, 8000)]
    audio = whisper_input(frames)
    assert audio.dtype == np.float32
    assert abs(audio.size - 32000) <= 64  # 1 s at 48 kHz + 1 s at 8 kHz, both as 16 kHz
    assert 0.25 < float(np.max(np.abs(audio))) < 0.35  # 10000 / 32768
    reference = AudioResampler(48000, 16000)
    first = np.concatenate(
        [f.to_float32().reshape(-1) for f in reference.push(frame_of(tone48, 48000))]
    )
    assert np.allclose(audio[: first.size], first, atol=1e-3)


def test_one_transcription_at_a_time_per_model() -> None:
    """Two sessions sharing a model queue their utterances instead of splitting two cores."""
    active = 0
    most = 0
    lock = threading.Lock()

    class Info:
        language = "en"

    def busy() -> None:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1

    class Engine:
        def transcribe(self, audio: Any, **options: Any) -> tuple[Any, Info]:
            def segments() -> Any:
                busy()
                yield from ()

            return segments(), Info()

    class Result:
        sequences_ids: ClassVar = [[1, 2]]
        scores: ClassVar = [-0.1]

    class Generator:
        is_multilingual = False

        def generate(self, features: Any, prompts: Any, **options: Any) -> list[Result]:
            busy()
            return [Result()]

    class ShortEngine(Engine):
        model = Generator()

        def feature_extractor(self, audio: Any) -> Any:
            return np.zeros((80, audio.size // 160), np.float32)

    class Tokenizer:
        sot_sequence = (50257,)
        no_timestamps = 50362

        def decode(self, ids: Any) -> str:
            return " hello"

    class ShortWhisper(LoadedWhisper):
        def _tokenizer(self, language: str) -> Any:
            return Tokenizer()

    # language given: the short-window path; language None: faster-whisper's own path
    for loaded, language in (
        (ShortWhisper(ModelKey("tiny.en", "int8", 2), ShortEngine()), "en"),
        (LoadedWhisper(ModelKey("base", "int8", 2), Engine()), None),
    ):
        most = 0
        audio = np.zeros(16000, np.float32)
        threads = [
            threading.Thread(
                target=loaded.transcribe,
                args=(audio,),
                kwargs={"language": language, "beam_size": 1},
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert most == 1, language


# ------------------------------------------------------------------ bad input


def test_unknown_model_lists_the_choices() -> None:
    with pytest.raises(UnknownModelError, match=r"unknown Whisper model 'large'.*base, tiny\.en"):
        whisper.STT("large")
    with pytest.raises(UnknownModelError, match=r"base, tiny\.en"):
        whisper.STT("base.en")


def test_english_only_model_rejects_another_language() -> None:
    with pytest.raises(ValueError, match="only transcribes English"):
        whisper.STT("tiny.en", language="fr")
    assert whisper.STT("tiny.en", language=None)._language == "en"  # no detection on .en
    assert whisper.STT("base", language=None)._language is None  # detection on base
    assert whisper.STT("base", language="fr-FR")._language == "fr"


async def test_language_override_per_call_is_checked() -> None:
    model = whisper.STT("tiny.en")
    with pytest.raises(Exception, match="only transcribes English"):
        await model.recognize([frame_of(np.ones(16000, np.int16) * 1000)], language="de")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"beam_size": 0}, "beam_size"),
        ({"cpu_threads": 0}, "cpu_threads"),
        ({"compute_type": "float8"}, "compute_type must be one of int8"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        whisper.STT(**options)


def test_is_a_batch_stt_the_session_streams_with_its_vad() -> None:
    model = whisper.STT()
    assert model.capabilities == stt.STTCapabilities(streaming=False, interim_results=False)
    assert model.model == "whisper-tiny.en"
    assert whisper.STT.models() == ["base", "tiny.en"]


def test_importing_the_plugin_registers_its_downloads() -> None:
    from voxline.cli import downloads

    assert {"local/whisper-tiny.en", "local/whisper-base"} <= set(downloads.registered())


def test_missing_faster_whisper_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from voxline.plugins.whisper._runtime import _whisper_model_class

    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # makes the import fail
    with pytest.raises(whisper.WhisperNotInstalledError, match=r"pip install 'voxline\[local\]'"):
        _whisper_model_class()
