"""`console --input-wav/--output-wav` end to end with the real AgentServer: the entrypoint is
dispatched as a job, AgentSession.start attaches the console I/O and registers with the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from console.helpers import ToneTTS, loud_spans, write_speech_wav
from voxline import Agent, AgentServer, AgentSession, JobContext
from voxline.cli import app
from voxline.testing import FakeActions, FakeLLM, FakeSTT, FakeVAD

ACTIONS = FakeActions()
ACTIONS.add_user_speech(0.1, 0.5, "Hello there.", stt_delay=0.1)
ACTIONS.add_llm("Hi! How can I help?")
ACTIONS.add_tts(0.5)
SESSIONS: list[AgentSession[Any]] = []
JOBS: list[JobContext] = []


async def entrypoint(ctx: JobContext) -> None:
    JOBS.append(ctx)
    session: AgentSession[Any] = AgentSession(
        vad=FakeVAD(ACTIONS),
        stt=FakeSTT(ACTIONS),
        llm=FakeLLM(ACTIONS),
        tts=ToneTTS(ACTIONS),
        turn_handling={"endpointing": {"min_delay": 0.3}, "interruption": {"min_duration": 0.3}},
        aec_warmup_duration=None,
    )
    SESSIONS.append(session)
    await session.start(Agent(instructions="You are a test agent."), room=ctx.room)


def test_console_wav_mode_runs_the_real_server_job(tmp_path: Path) -> None:
    server = AgentServer()
    server.rtc_session(entrypoint)
    in_wav = write_speech_wav(tmp_path / "in.wav", [(0.1, 0.5)], 0.7)
    out_wav = tmp_path / "out.wav"
    result = CliRunner().invoke(
        app,
        [
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
        ],
        obj=server,
    )
    assert result.exit_code == 0, result.output
    [(start, end)] = loud_spans(out_wav)
    assert 1.3 <= start <= 1.7 and 0.4 <= end - start <= 0.6
    session = SESSIONS[-1]
    said = [m.text_content for m in session.history.items if m.type == "message"]
    assert said == ["Hello there.", "Hi! How can I help?"]
    report = JOBS[-1].make_session_report()
    assert "Hi! How can I help?" in str(report)
