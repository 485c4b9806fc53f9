"""The whole offline voice stack, end to end, as a person runs it: `voxline console
examples/assistant.py --input-wav Q.wav --output-wav A.wav` in a fresh interpreter, with a
question spoken by espeak-ng. The agent greets, hears the question (Silero, Smart Turn,
Whisper), answers it (Qwen through llama.cpp) and speaks (Piper); Whisper reads the answer
back from the output file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support.speech import espeak_pcm, join_with_silences, read_wav, write_wav
from voxline.audio import AudioFrame
from voxline.plugins import whisper

ROOT = Path(__file__).resolve().parents[2]
RATE = 16000


def _voiced(pcm: np.ndarray, rate: int) -> np.ndarray:  # type: ignore[type-arg]
    """Start times (s) of the 10 ms windows with speech in them."""
    n = rate // 100
    windows = pcm[: pcm.size // n * n].astype(np.float64).reshape(-1, n)
    rms = np.sqrt(np.mean(windows**2, axis=1))
    return np.nonzero(rms > 300)[0] / 100.0


@pytest.mark.models
def test_a_spoken_question_gets_a_spoken_answer(tmp_path: Path) -> None:
    question = espeak_pcm("What is the capital of France?", rate=RATE)
    # 10 s for the models to load and the greeting; 12 s for the answer
    audio, [(_, asked_end)] = join_with_silences([question], [10.0, 12.0], RATE)
    write_wav(tmp_path / "q.wav", audio, RATE)
    agent = str(ROOT / "examples" / "assistant.py")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "voxline",
            "console",
            agent,
            "--input-wav",
            "q.wav",
            "--output-wav",
            "a.wav",
            "--max-duration",
            "60",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out, rate = read_wav(tmp_path / "a.wav")
    voiced = _voiced(out, rate)
    greeting = voiced[voiced < asked_end]
    answer = voiced[voiced > asked_end]
    assert greeting.size, "the agent greeted before the question"
    assert answer.size, "the agent answered after the question"
    # what the agent said after the question, read back by Whisper
    start = int(answer[0] * rate)
    spoken = AudioFrame.from_numpy(out[start:].astype(np.float32) / 32768.0, rate)
    event = asyncio.run(whisper.STT().recognize([spoken]))
    heard = event.alternatives[0].text.lower()
    assert "paris" in heard, heard
