"""Whisper streamed through the VAD adapter: a WAV of two utterances gives two finals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from support.speech import espeak_pcm, join_with_silences, write_wav
from support.wer import wer
from voxline import stt
from voxline.audio import read_wav, split_frame
from voxline.plugins import silero, whisper

FIRST = "Can you tell me a joke about computers?"
SECOND = "I need to change my password because I forgot it."


@pytest.mark.models
async def test_two_utterances_in_a_wav_give_two_finals(tmp_path: Path) -> None:
    rate = 24000  # neither the VAD's nor Whisper's rate: both resample
    audio, spans = join_with_silences(
        [espeak_pcm(FIRST, rate=rate), espeak_pcm(SECOND, rate=rate)], [0.4, 1.5, 1.2], rate
    )
    path = tmp_path / "two.wav"
    write_wav(path, audio, rate)

    vad = await asyncio.to_thread(silero.VAD.load)
    model = whisper.STT()
    await model.load()
    stream = stt.StreamAdapter(stt=model, vad=vad).stream()
    for frame in split_frame(read_wav(path), rate // 50):  # 20 ms frames
        stream.push_frame(frame)
    stream.end_input()
    events = [event async for event in stream]

    kinds = [event.type for event in events]
    assert (
        kinds
        == [
            stt.SpeechEventType.START_OF_SPEECH,
            stt.SpeechEventType.FINAL_TRANSCRIPT,
            stt.SpeechEventType.END_OF_SPEECH,
        ]
        * 2
    )
    finals = [event.text for event in events if event.type == stt.SpeechEventType.FINAL_TRANSCRIPT]
    print(f"\n[whisper stream] spans {spans} -> {finals}")
    assert wer(FIRST, finals[0]) < 0.25, finals[0]
    assert wer(SECOND, finals[1]) < 0.25, finals[1]
