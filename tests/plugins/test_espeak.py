"""espeak-ng TTS: real subprocess synthesis that Whisper reads back, options and errors."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from support.wer import wer
from voxline import tts
from voxline._exceptions import APIError
from voxline.audio import AudioFrame, combine_frames, rms_dbfs
from voxline.plugins import espeak, whisper

SENTENCE = "Please send me the report before the meeting on Friday."


async def render(model: tts.TTS, text: str) -> list[AudioFrame]:
    return [audio.frame async for audio in model.synthesize(text)]


@pytest.mark.models
async def test_speech_at_the_stated_rate_that_whisper_reads_back() -> None:
    model = espeak.TTS()
    loop = asyncio.get_running_loop()
    started = loop.time()
    frames = await render(model, SENTENCE)
    took = loop.time() - started
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(model.sample_rate, 1)}
    assert model.sample_rate == 22050
    assert max(f.duration for f in frames) == pytest.approx(0.02, abs=1e-4)
    audio = combine_frames(frames)
    assert 2.0 < audio.duration < 6.0
    assert rms_dbfs(audio) > -30  # speech, not silence
    stt_model = whisper.STT()
    heard = (await stt_model.recognize(frames)).text
    print(f"\n[espeak] {audio.duration:.2f} s of audio in {took * 1000:.0f} ms; heard {heard!r}")
    assert wer(SENTENCE, heard) < 0.25, heard


async def test_speed_and_pitch_change_the_audio() -> None:
    slow = combine_frames(await render(espeak.TTS(speed=120), SENTENCE))
    fast = combine_frames(await render(espeak.TTS(speed=300), SENTENCE))
    assert fast.duration < slow.duration * 0.6
    low = combine_frames(await render(espeak.TTS(pitch=10), SENTENCE))
    high = combine_frames(await render(espeak.TTS(pitch=90), SENTENCE))
    assert low.data.tobytes() != high.data.tobytes()


async def test_text_is_never_read_as_an_option() -> None:
    frames = await render(espeak.TTS(), "--version -v xx")
    assert combine_frames(frames).duration > 0.5


async def test_blank_text_renders_nothing() -> None:
    assert await render(espeak.TTS(), " \n ") == []


async def test_unknown_voice_reports_espeak_error() -> None:
    with pytest.raises(APIError, match=r"espeak-ng failed.*voice does not exist"):
        await render(espeak.TTS("xx-nonexistent"), SENTENCE)


def test_missing_binary_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(espeak.EspeakNotFoundError, match="apt-get install espeak-ng"):
        espeak.TTS(binary=str(tmp_path / "espeak-ng"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng anywhere on PATH
    with pytest.raises(espeak.EspeakNotFoundError, match="apt-get install espeak-ng"):
        espeak.TTS()


async def test_binary_removed_after_construction(tmp_path: Path) -> None:
    fake = tmp_path / "espeak-ng"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    model = espeak.TTS(binary=str(fake))
    os.remove(fake)
    with pytest.raises(Exception, match="apt-get install espeak-ng"):
        await render(model, SENTENCE)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"speed": 50}, "speed must be 80-450"),
        ({"pitch": 100}, "pitch must be 0-99"),
        ({"voice": "-x"}, "voice must be"),
        ({"voice": "en us"}, "voice must be"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        espeak.TTS(**options)
