"""`voxline playground`: the command line it runs the agent with, and the whole command
started as a user would, without a browser (the browser test is tests/browser)."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from voxline.cli._playground import (
    PlaygroundError,
    PlaygroundOptions,
    run_playground,
    worker_command,
)

AGENT = Path(__file__).resolve().parents[1] / "browser" / "playground_agent.py"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "agent.py", "playground", "--port", "0"], ["agent.py", "dev"]),
        (
            ["python", "/venv/bin/voxline", "playground", "examples/assistant.py", "--room", "r"],
            ["/venv/bin/voxline", "dev", "examples/assistant.py"],
        ),
        (["python", "-X", "dev", "agent.py", "playground"], ["-X", "dev", "agent.py", "dev"]),
    ],
)
def test_the_agent_runs_as_dev_without_reload_the_way_it_was_started(
    argv: list[str], expected: list[str]
) -> None:
    command = worker_command(argv, "INFO")
    assert command == [sys.executable, *expected, "--no-reload", "--log-level", "INFO"]


def test_a_command_line_without_playground_is_refused() -> None:
    with pytest.raises(PlaygroundError, match="cannot find the playground command"):
        worker_command(["python", "agent.py", "dev"], "INFO")


async def test_an_agent_that_dies_before_registering_is_reported() -> None:
    options = PlaygroundOptions(port=0, room=None, identity="me", log_level="INFO")
    urls: list[str] = []
    with pytest.raises(PlaygroundError, match=r"exited \(code 3\) before registering"):
        await asyncio.wait_for(
            run_playground(
                options,
                announce=urls.append,
                command=[sys.executable, "-c", "raise SystemExit(3)"],
            ),
            30,
        )
    assert urls == []


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, str(AGENT), "playground", "--port", str(port)],
            capture_output=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in run.stderr.decode()


def _claims(jwt: str) -> dict[str, object]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


@pytest.mark.parametrize(("stop", "codes"), [(signal.SIGINT, (0, 130)), (signal.SIGTERM, (143,))])
def test_the_command_serves_the_page_and_prints_a_url_with_a_room_token(
    stop: signal.Signals, codes: tuple[int, ...]
) -> None:
    process = subprocess.Popen(
        [sys.executable, str(AGENT), "playground", "--port", "0", "--room", "lobby"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        url = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not url.startswith("http://"):
            url = process.stdout.readline().decode().strip()
            if not url and process.poll() is not None:
                break
        assert url.startswith("http://127.0.0.1:"), process.stderr.read().decode()[-3000:]
        page, _, fragment = url.partition("#")
        assert page.endswith("/playground/playground.html")
        with urllib.request.urlopen(page, timeout=10) as response:
            html = response.read().decode()
        assert "<title>voxline playground</title>" in html
        with urllib.request.urlopen(page.replace(".html", ".js"), timeout=10) as response:
            assert b"lk.transcription" in response.read()
        claims = _claims(fragment.removeprefix("token="))
        assert claims["sub"] == "playground-user"
        assert claims["video"] == {
            "roomJoin": True,
            "room": "lobby",
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
            "canUpdateOwnMetadata": True,
        }
        agent_processes = psutil.Process(process.pid).children(recursive=True)
        assert agent_processes, "the agent runs in a child process"
    finally:
        process.send_signal(stop)
        try:
            code = process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
    assert code in codes  # Ctrl+C or SIGTERM ends it
    # ... and the agent process (in a session of its own) is stopped with it
    _gone, alive = psutil.wait_procs(agent_processes, timeout=10)
    assert not alive, alive
