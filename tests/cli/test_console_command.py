"""`voxline console`: whole conversations through the CLI, with a fake agent server.

The key test plays IN.wav (a user tone) to the agent in real time and checks that OUT.wav
holds the agent's tone at the moment the agent spoke, and silence everywhere else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from console.helpers import (
    AGENT_HZ,
    FakeServer,
    FakeStream,
    dominant_hz,
    fake_sounddevice,
    loud_spans,
    window_rms,
    write_speech_wav,
)
from voxline.audio import read_wav
from voxline.cli import _app, app
from voxline.console import (
    ConsoleTextOutput,
    SoundDeviceAudioInput,
    SoundDeviceAudioOutput,
    WavAudioInput,
    WavAudioOutput,
)
from voxline.testing import FakeActions
from voxline.testing import run as run_virtual


def _invoke(server: Any, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), obj=server, input=stdin)


@pytest.fixture
def virtual_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the command's coroutine on the virtual clock: seconds of talk in milliseconds."""
    monkeypatch.setattr(_app, "run_async", run_virtual)


@pytest.fixture
def no_sound_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_app, "sound_device_problem", lambda kind="duplex": "no device (test)")


def _hello_script() -> FakeActions:
    actions = FakeActions()
    actions.add_user_speech(0.1, 0.5, "Hello there.")
    actions.add_llm("Hi! How can I help?")
    actions.add_tts(0.5)
    return actions


def _check_agent_answer(out_wav: Path, *, start_window: tuple[float, float]) -> tuple[float, float]:
    """OUT.wav has exactly one loud region: the agent's 880 Hz tone, 0.5 s long, starting in
    `start_window`; everything else is digital silence."""
    [(start, end)] = loud_spans(out_wav)
    assert start_window[0] <= start <= start_window[1], (start, end)
    assert end - start == pytest.approx(0.5, abs=0.06)
    assert dominant_hz(out_wav, start + 0.05, end - 0.05) == pytest.approx(AGENT_HZ, abs=5)
    audio = read_wav(out_wav)
    x = audio.data.astype(np.float64) / 32768.0
    rate = audio.sample_rate
    assert rate == 24000 and audio.num_channels == 1
    assert window_rms(x, rate, 0.0, start - 0.02) < 1e-3
    assert window_rms(x, rate, end + 0.05, audio.duration) < 1e-3
    assert window_rms(x, rate, start + 0.05, end - 0.05) > 0.3
    return start, end


def test_console_wav_in_wav_out_in_real_time(tmp_path: Path) -> None:
    """voxline console --input-wav IN.wav --output-wav OUT.wav, on the real clock (~2 s).

    The user's tone spans 0.1-0.5 s of IN.wav. The fake VAD ends the turn 0.5 s after the
    speech (1.0 s), the fake LLM answers 0.3 s later and the fake TTS starts 0.2 s after that:
    the agent is heard from 1.5 s on, for 0.5 s, on IN.wav's timeline.
    """
    in_wav = write_speech_wav(tmp_path / "in.wav", [(0.1, 0.5)], 0.7)
    out_wav = tmp_path / "out.wav"
    server = FakeServer(_hello_script())
    result = _invoke(
        server,
        "console",
        "--input-wav",
        str(in_wav),
        "--output-wav",
        str(out_wav),
        "--trailing-silence",
        "0.6",
        "--settle",
        "0.2",
        "--max-duration",
        "15",
    )
    assert result.exit_code == 0, result.output
    start, end = _check_agent_answer(out_wav, start_window=(1.4, 1.65))

    room, io, _ = server.jobs[0]
    assert room == "console-room" and io is not None
    assert server.context_io == [io]  # the job saw the console I/O in its context
    assert isinstance(io.audio_input, WavAudioInput) and isinstance(io.audio_output, WavAudioOutput)
    # the same moment, measured by the session on the loop clock
    session = server.sessions[0]
    assert session.lifecycle == "closed"
    reply = [m for m in session.history.items if m.type == "message" and m.role == "assistant"]
    assert reply[0].text_content == "Hi! How can I help?" and not reply[0].interrupted
    origin = io.audio_input.started_at
    assert origin is not None
    assert reply[0].metrics["started_speaking_at"] - origin == pytest.approx(start, abs=0.03)
    # OUT.wav covers the whole conversation, IN.wav and its trailing silence included
    assert read_wav(out_wav).duration >= max(1.3, end)
    assert "user said: Hello there." in result.stdout
    assert "agent said: Hi! How can I help?" in result.stdout


def test_console_wav_timeline_is_the_same_on_the_virtual_clock(
    tmp_path: Path, virtual_clock: None
) -> None:
    in_wav = write_speech_wav(tmp_path / "in.wav", [(0.1, 0.5)], 0.7)
    out_wav = tmp_path / "out.wav"
    result = _invoke(
        FakeServer(_hello_script()),
        "console",
        "--input-wav",
        str(in_wav),
        "--output-wav",
        str(out_wav),
        "--trailing-silence",
        "0.6",
    )
    assert result.exit_code == 0, result.output
    _check_agent_answer(out_wav, start_window=(1.49, 1.51))  # exactly 1.5 s


def test_console_wav_an_interrupted_answer_is_cut_where_the_user_spoke(
    tmp_path: Path, virtual_clock: None
) -> None:
    actions = FakeActions()
    actions.add_user_speech(0.2, 0.8, "Tell me a story.")
    actions.add_llm("Once upon a time there was a very long story.")
    actions.add_tts(3.0)
    actions.add_user_speech(2.5, 3.2, "Stop, please.")
    actions.add_llm("Okay.")
    actions.add_tts(0.5)
    in_wav = write_speech_wav(tmp_path / "in.wav", [(0.2, 0.8), (2.5, 3.2)], 3.5)
    out_wav = tmp_path / "out.wav"
    server = FakeServer(actions)
    result = _invoke(
        server,
        "console",
        "--input-wav",
        str(in_wav),
        "--output-wav",
        str(out_wav),
        "--trailing-silence",
        "1.5",
    )
    assert result.exit_code == 0, result.output
    (s1, e1), (s2, e2) = loud_spans(out_wav)
    assert s1 == pytest.approx(1.8, abs=0.02)  # answer to the first turn
    assert e1 == pytest.approx(2.8, abs=0.03)  # cut min_duration (0.3 s) into the second turn
    assert s2 == pytest.approx(4.2, abs=0.02) and e2 - s2 == pytest.approx(0.5, abs=0.05)
    replies = [
        m for m in server.sessions[0].history.items if m.type == "message" and m.role == "assistant"
    ]
    assert [m.interrupted for m in replies] == [True, False]
    assert "[interrupted]" in result.stdout


def test_console_text_mode_reads_typed_lines(tmp_path: Path) -> None:
    actions = FakeActions()
    actions.add_llm("Hello! How can I help?", input="hi")
    actions.add_llm("Goodbye.", input="bye")
    server = FakeServer(actions)
    result = _invoke(server, "console", "--text", "--settle", "0.1", stdin="hi\n\nbye\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "agent: Hello! How can I help?\nagent: Goodbye.\n"
    assert "text mode" in result.stderr
    assert server.sessions[0].lifecycle == "closed"


def test_console_without_a_sound_device_falls_back_to_text(no_sound_device: None) -> None:
    actions = FakeActions()
    actions.add_llm("Pong.", input="ping")
    result = _invoke(FakeServer(actions), "console", "--settle", "0.1", stdin="ping\n")
    assert result.exit_code == 0, result.output
    assert "no sound device available (no device (test)); falling back to text mode" in (
        result.stderr
    )
    assert result.stdout == "agent: Pong.\n"


def test_console_output_wav_alone_records_a_typed_conversation(
    tmp_path: Path, virtual_clock: None
) -> None:
    actions = FakeActions()
    actions.add_llm("Pong.", input="ping")
    actions.add_tts(0.5)
    out_wav = tmp_path / "out.wav"
    server = FakeServer(actions)
    result = _invoke(server, "console", "--output-wav", str(out_wav), stdin="ping\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "agent: Pong.\n"
    io = server.jobs[0][1]
    assert io is not None and isinstance(io.text_output, ConsoleTextOutput)
    [(start, end)] = loud_spans(out_wav)
    assert start == pytest.approx(0.0, abs=0.01)  # the timeline starts with the agent's audio
    assert end == pytest.approx(0.5, abs=0.05)


def test_console_with_a_sound_device_uses_it_until_max_duration(
    monkeypatch: pytest.MonkeyPatch, virtual_clock: None
) -> None:
    FakeStream.instances.clear()
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice())
    monkeypatch.setattr(_app, "sound_device_problem", lambda kind="duplex": None)
    server = FakeServer(FakeActions())
    result = _invoke(server, "console", "--max-duration", "2", "--input-device", "1")
    assert result.exit_code == 0, result.output
    io = server.jobs[0][1]
    assert io is not None
    assert isinstance(io.audio_input, SoundDeviceAudioInput)
    assert isinstance(io.audio_output, SoundDeviceAudioOutput)
    assert io.view is not None
    [mic] = FakeStream.instances
    assert mic.kwargs["device"] == 1 and mic.closed
    assert server.sessions[0].lifecycle == "closed"


def test_console_list_devices(no_sound_device: None) -> None:
    result = _invoke(FakeServer(FakeActions()), "console", "--list-devices")
    assert result.exit_code == 0
    assert result.stdout.startswith("no sound devices")


def test_console_reports_a_failing_job(virtual_clock: None, no_sound_device: None) -> None:
    server = FakeServer(FakeActions(), job_error=RuntimeError("entrypoint exploded"))
    result = _invoke(server, "console", "--text", stdin="")
    assert result.exit_code == 1
    assert "the job failed: RuntimeError: entrypoint exploded" in result.stderr


def test_console_rejects_contradicting_options(tmp_path: Path) -> None:
    in_wav = write_speech_wav(tmp_path / "in.wav", [], 0.1)
    result = _invoke(FakeServer(FakeActions()), "console", "--text", "--input-wav", str(in_wav))
    assert result.exit_code == 2 and "cannot be combined" in result.stderr
    result = _invoke(FakeServer(FakeActions()), "console", "--input-wav", str(tmp_path / "no.wav"))
    assert result.exit_code == 2 and "Invalid value for '--input-wav'" in result.output
