"""The installed `voxline` command: `voxline console AGENT_FILE ...` runs the agent file's
server exactly as `python AGENT_FILE console ...` would, in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.helpers import loud_spans, write_speech_wav

TESTS = Path(__file__).resolve().parents[1]

AGENT = """
from voxline import Agent, AgentServer, AgentSession, JobContext
from voxline.testing import FakeActions, FakeLLM, FakeSTT, FakeVAD
from console.helpers import ToneTTS

ACTIONS = FakeActions()
ACTIONS.add_user_speech(0.1, 0.5, "Hello there.", stt_delay=0.1)
ACTIONS.add_llm("Hi! How can I help?")
ACTIONS.add_tts(0.5)

server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = AgentSession(
        vad=FakeVAD(ACTIONS), stt=FakeSTT(ACTIONS), llm=FakeLLM(ACTIONS), tts=ToneTTS(ACTIONS),
        turn_handling={"endpointing": {"min_delay": 0.3}}, aec_warmup_duration=None,
    )
    session.on("conversation_item_added", lambda ev: print("ITEM", ev.item.text_content))
    await session.start(Agent(instructions="You are a test agent."), room=ctx.room)
"""


def _voxline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.run(
        [sys.executable, "-m", "voxline", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("with_run_app", [True, False])
def test_console_runs_an_agent_file_with_or_without_its_own_run_app(
    tmp_path: Path, with_run_app: bool
) -> None:
    source = AGENT
    if with_run_app:
        source += (
            '\nif __name__ == "__main__":\n    from voxline import cli\n    cli.run_app(server)\n'
        )
    agent = tmp_path / "agent.py"
    agent.write_text(source)
    in_wav = write_speech_wav(tmp_path / "in.wav", [(0.1, 0.5)], 0.7)
    out_wav = tmp_path / "out.wav"
    done = _voxline(
        *("console", "agent.py", "--input-wav", "in.wav", "--output-wav", "out.wav"),
        *("--trailing-silence", "0.6", "--settle", "0.2", "--max-duration", "15"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "ITEM Hello there." in done.stdout and "ITEM Hi! How can I help?" in done.stdout
    [(start, end)] = loud_spans(out_wav)
    assert 0.4 <= end - start <= 0.6
    assert in_wav.exists()


def test_a_missing_agent_file_is_named(tmp_path: Path) -> None:
    done = _voxline("console", "nowhere.py", cwd=tmp_path)
    assert done.returncode != 0
    assert "no such agent file: nowhere.py" in done.stderr


def test_a_file_without_a_server_says_what_to_define(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n")
    done = _voxline("start", "empty.py", cwd=tmp_path)
    assert done.returncode != 0
    assert "defines no AgentServer" in done.stderr


def test_a_command_that_needs_a_file_asks_for_one(tmp_path: Path) -> None:
    done = _voxline("dev", cwd=tmp_path)
    assert done.returncode != 0
    assert "name the agent file" in done.stderr
