"""ConsoleIO: how a console job's I/O reaches its session, and how the CLI knows it is over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from console.helpers import ToneTTS, loud_spans, write_speech_wav
from voxline import Agent
from voxline.console import (
    ConsoleIO,
    ConsoleTextOutput,
    WavAudioInput,
    WavAudioOutput,
    current_console_io,
    use_console_io,
)
from voxline.testing import FakeActions, FakeAudioInput, create_session


@pytest.mark.virtual_time
async def test_the_context_variable_reaches_tasks_started_inside() -> None:
    assert current_console_io() is None
    io = ConsoleIO()
    seen: list[ConsoleIO | None] = []

    async def job() -> None:
        await asyncio.sleep(0)
        seen.append(current_console_io())

    with use_console_io(io) as current:
        assert current is io and current_console_io() is io
        task = asyncio.create_task(job())
        with use_console_io(None):
            assert current_console_io() is None
        assert current_console_io() is io
    assert current_console_io() is None
    await task
    assert seen == [io]


@pytest.mark.virtual_time
async def test_attach_fills_the_session_slots_once() -> None:
    session = create_session(FakeActions())
    audio_in, text_out = FakeAudioInput(), ConsoleTextOutput()
    audio_out = WavAudioOutput(None)
    io = ConsoleIO(audio_input=audio_in, audio_output=audio_out, text_output=text_out)
    io.attach(session)
    io.attach(session)  # the job and start() may both attach: the second is a no-op
    assert session.input.audio is audio_in
    assert session.output.audio is audio_out
    assert session.output.transcription is text_out
    assert io.session is session and await io.wait_attached() is session

    await session.start(Agent(instructions="x"))
    other = create_session(FakeActions())
    with pytest.raises(RuntimeError, match="already attached"):
        io.attach(other)
    audio_in.close()
    await io.aclose()
    assert session.lifecycle == "closed"
    await asyncio.wait_for(io.wait_session_closed(), 1)
    with pytest.raises(RuntimeError, match="closed"):
        io.attach(other)


@pytest.mark.virtual_time
async def test_wav_conversation_is_over_when_the_input_ended_and_the_agent_is_quiet(
    tmp_path: Path,
) -> None:
    """The console's end condition: IN.wav played, the agent answered, then quiet."""
    actions = FakeActions()
    actions.add_user_speech(0.2, 1.0, "Hello?")
    actions.add_llm("Hi there.")
    actions.add_tts(1.5)
    session = create_session(actions, extra_kwargs={"tts": ToneTTS(actions)})
    audio_in = WavAudioInput(
        write_speech_wav(tmp_path / "in.wav", [(0.2, 1.0)], 1.2), trailing_silence=0.3
    )
    audio_out = WavAudioOutput(tmp_path / "out.wav")
    audio_out.sync_to(audio_in)
    io = ConsoleIO(audio_input=audio_in, audio_output=audio_out)
    io.attach(session)
    await session.start(Agent(instructions="x"))
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(io.wait_input_ended(), 10)
    assert loop.time() == pytest.approx(1.5)  # 1.2 s of file + 0.3 s of silence
    assert session.agent_state in ("thinking", "speaking")  # the answer is still coming
    await asyncio.wait_for(io.wait_idle(settle=0.4), 10)
    end = loop.time()
    await io.aclose()
    [(start, stop)] = loud_spans(tmp_path / "out.wav")
    assert stop == pytest.approx(start + 1.5, abs=0.05)
    assert end == pytest.approx(stop + 0.4, abs=0.1)


@pytest.mark.virtual_time
async def test_an_endless_microphone_never_ends_by_itself() -> None:
    io = ConsoleIO(audio_input=FakeAudioInput())
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(io.wait_input_ended(), 60)
    await asyncio.wait_for(ConsoleIO().wait_input_ended(), 1)  # no input: nothing to wait for
