"""The playground in a real browser: headless Chromium, its fake microphone playing an
espeak-ng question, over WebRTC on 127.0.0.1 inside a loopback-only network namespace.

`scripted`: the page against a scripted agent participant (the page on its own: audio both
ways, transcripts, agent state, chat). `command`: `voxline playground` with an AgentSession
on scripted models and the espeak-ng voice (the whole path a user takes). `assistant`:
`voxline playground examples/assistant.py`, the main job, on the real local models: Whisper
must hear the question through WebRTC and the local LLM answer it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
DOCS_SCREENSHOT = HERE.parent.parent / "docs" / "playground.png"
ALL_PASSED = {
    "connected": True,
    "user_transcript": True,
    "agent_transcript": True,
    "agent_audio": True,
    "agent_state": True,
}


def drive(mode: str, out: Path) -> dict[str, Any]:
    command = ["unshare", "-n", sys.executable, str(HERE / "drive_playground.py"), mode, str(out)]
    run = subprocess.run(command, capture_output=True, timeout=300)
    logs = {
        name: (out / name).read_text(errors="replace")[-3000:]
        for name in ("playground.log", "chromium.log")
        if (out / name).exists()
    }
    result_file = out / "result.json"
    assert result_file.exists(), (run.stdout[-2000:], run.stderr[-3000:], logs)
    result: dict[str, Any] = json.loads(result_file.read_text())
    assert result["checks"] == ALL_PASSED, (result, logs, run.stderr[-3000:])
    assert (out / "playground.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return result


@pytest.mark.browser
def test_the_page_carries_audio_both_ways_transcripts_state_and_chat(tmp_path: Path) -> None:
    result = drive("scripted", tmp_path)
    transcript = result["snapshot"]["transcript"]
    assert transcript[0] == {"user": True, "text": "What is the capital of France?", "final": True}
    assert transcript[1] == {
        "user": False,
        "text": "The capital of France is Paris. ",
        "final": True,
    }
    # The agent heard the fake microphone's question, and the page's chat reached it.
    assert result["agent"]["heard_speech_s"] >= 1.0
    assert result["agent"]["chats"] == ["Thanks!"]
    assert result["snapshot"]["stats"]["inboundAudioBytes"] > 10_000
    assert result["snapshot"]["agentState"] == "listening"


@pytest.mark.browser
def test_voxline_playground_with_an_agent_session(tmp_path: Path) -> None:
    result = drive("command", tmp_path)
    transcript = result["snapshot"]["transcript"]
    assert any(s["user"] and s["final"] for s in transcript)
    assert any(not s["user"] and "Paris" in s["text"] for s in transcript)
    assert result["snapshot"]["stats"]["inboundAudioBytes"] > 10_000
    if os.environ.get("VOXLINE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "playground.png", DOCS_SCREENSHOT)


@pytest.mark.browser
@pytest.mark.models
def test_the_main_job_hears_and_answers_a_browser_user(tmp_path: Path) -> None:
    result = drive("assistant", tmp_path)
    transcript = result["snapshot"]["transcript"]
    # the words that carry the question: Whisper tiny hears espeak's reduced "of" as "and"
    # now and then
    assert any(
        s["user"] and "capital" in s["text"].lower() and "france" in s["text"].lower()
        for s in transcript
    )
    assert any(not s["user"] and "paris" in s["text"].lower() for s in transcript)
    assert result["snapshot"]["stats"]["inboundAudioBytes"] > 10_000
    if os.environ.get("VOXLINE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "playground.png", DOCS_SCREENSHOT)
