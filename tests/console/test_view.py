"""ConsoleView: live on a terminal, plain lines anywhere else, fed by session events."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from console.helpers import tone
from voxline import Agent, AgentSession
from voxline.audio import AudioFrame
from voxline.console import ConsoleIO, ConsoleView
from voxline.testing import FakeActions, FakeAudioInput, create_session, run_session


async def _talk(session: AgentSession[Any], audio_in: FakeAudioInput, seconds: float = 6.0) -> None:
    """run_session for a session whose input slot holds a wrapper of the fake input."""
    audio_in.push(seconds)
    await session.start(Agent(instructions="x"))
    await audio_in.wait_first_frame()
    await asyncio.sleep(seconds)
    audio_in.close()
    await session.aclose()


def _conversation() -> FakeActions:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "What time is it?")
    actions.add_llm("It is noon.")
    actions.add_tts(1.0)
    return actions


@pytest.mark.virtual_time
async def test_plain_lines_when_stdout_is_not_a_terminal() -> None:
    out = io.StringIO()
    view = ConsoleView(Console(file=out, width=200))
    assert not view.is_live
    actions = _conversation()
    session = create_session(actions)
    view.attach(session)
    await run_session(session, Agent(instructions="x"))
    view.detach()

    lines = out.getvalue().splitlines()
    assert all(line.startswith("[") and "s] " in line for line in lines)
    text = "\n".join(line.split("s] ", 1)[1] for line in lines)
    expected = [
        "user: listening -> speaking",
        "user transcript: What time is it?",
        "agent: listening -> thinking",
        "user said: What time is it?",
        "agent: thinking -> speaking",
        "agent said: It is noon.",
        "agent: speaking -> listening",
        "session closed (user_initiated)",
    ]
    positions = [text.index(line) for line in expected]
    assert positions == sorted(positions)
    assert "\x1b[" not in out.getvalue()  # no terminal control codes in a file


@pytest.mark.virtual_time
async def test_live_view_renders_states_meter_and_transcripts() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    view = ConsoleView(console, refresh_per_second=4)
    assert view.is_live
    actions = _conversation()
    session = create_session(actions)
    audio_in = session.input.audio
    assert isinstance(audio_in, FakeAudioInput)
    session.input.audio = view.metered(audio_in)
    text_out = view.text_output()
    session.output.transcription = text_out
    view.attach(session)

    await text_out.capture_text("It is ")
    assert view.agent_partial == "It is "
    text_out.flush()
    await _talk(session, audio_in)
    view.detach()
    assert view.agent_partial == ""  # replaced by the committed message
    assert list(view.lines) == [("user", "What time is it?"), ("agent", "It is noon.")]
    assert view.agent_state == "initializing"

    for _ in range(5):
        view.observe_frame(AudioFrame.from_numpy(tone(0.02, rate=16000), 16000))
    assert view.level_db == pytest.approx(-9.0, abs=0.5)  # a 0.5 sine: -9 dBFS
    view.observe_frame(AudioFrame.create(16000, 1, 16000))  # 1 s of silence: the peak falls
    assert view.level_db == pytest.approx(-33.0, abs=0.5)
    assert view.meter().count("█") in (13, 14)  # 27 of 60 dB on a 30-cell bar

    capture = Console(file=io.StringIO(), width=100, record=True)
    view.user_partial = "and the da"
    capture.print(view.render())
    rendered = capture.export_text()
    for needle in ["agent", "initializing", "mic", "-33.0 dBFS", "It is noon.", "and the da"]:
        assert needle in rendered


@pytest.mark.virtual_time
async def test_metered_input_passes_frames_through(monkeypatch: pytest.MonkeyPatch) -> None:
    view = ConsoleView(Console(file=io.StringIO()))
    seen: list[AudioFrame] = []
    monkeypatch.setattr(view, "observe_frame", seen.append)
    source = FakeAudioInput()
    metered = view.metered(source)
    source.push(0.1)
    source.close()
    frames = [frame async for frame in metered]
    assert len(frames) == 2 and frames == seen


@pytest.mark.virtual_time
async def test_console_io_meters_input_and_detaches_the_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = ConsoleView(Console(file=io.StringIO()))
    actions = _conversation()
    session = create_session(actions)
    audio_in = session.input.audio
    assert isinstance(audio_in, FakeAudioInput)
    levels: list[float] = []
    original = view.observe_frame

    def spy(frame: AudioFrame) -> None:
        original(frame)
        levels.append(view.level_db)

    monkeypatch.setattr(view, "observe_frame", spy)
    console_io = ConsoleIO(audio_input=audio_in, view=view)
    console_io.attach(session)
    assert session.input.audio is not audio_in  # wrapped by the meter
    await _talk(session, audio_in)
    await console_io.aclose()
    assert levels and all(np.isfinite(levels))
    assert view._session is None
