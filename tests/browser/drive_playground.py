"""Drive the playground in headless Chromium over the DevTools protocol; run inside a
loopback-only network namespace (`unshare -n`), so WebRTC can only use 127.0.0.1.

    unshare -n python tests/browser/drive_playground.py command|scripted|assistant OUT_DIR

`command`: starts `python playground_agent.py playground --port 0` (the real command and a
real AgentSession) and opens the URL it prints. `scripted`: an in-process room server and a
scripted agent participant (`scripted_agent.py`) that checks what the page sends.
Either way Chromium's fake microphone plays an espeak-ng question; the driver clicks Connect
and polls the page's `voxlinePlayground.snapshot()` until the agent has heard the question,
answered it in text and in audio, and shown its state. Writes OUT_DIR/result.json and
OUT_DIR/playground.png; exits 0 when every check passed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import soxr

HERE = Path(__file__).resolve().parent
AGENT = HERE / "playground_agent.py"
ASSISTANT = HERE.parent.parent / "examples" / "assistant.py"
ASSISTANT_TIMEOUT = 120.0  # the local models load and read the system prompt first
CHROMIUM = "/usr/bin/chromium"
URL_TIMEOUT = 120.0
PAGE_TIMEOUT = 60.0
QUESTION = "What is the capital of France?"


def make_question_wav(path: Path) -> None:
    """0.5 s of silence, the question, then silence up to 8 s (Chromium loops the file)."""
    spoken = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "165", "--stdout", QUESTION],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    rate = int.from_bytes(spoken[24:28], "little")
    pcm = np.frombuffer(spoken[44:], dtype=np.int16).astype(np.float32) / 32768
    speech = soxr.resample(pcm, rate, 48000)
    out = np.zeros(48000 * 8, dtype=np.float32)
    out[24000 : 24000 + speech.size] = speech[: out.size - 24000]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes((np.clip(out, -1, 1) * 32767).astype(np.int16).tobytes())


def start_playground(
    log: Path, argv: list[str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        argv or [sys.executable, str(AGENT), "playground", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        cwd=HERE,
        start_new_session=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + URL_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode().strip()
        if line.startswith("http://"):
            return process, line
        if not line and process.poll() is not None:
            break
    raise RuntimeError(f"the playground printed no URL (exit code {process.poll()}); see {log}")


def start_chromium(profile: Path, wav: Path, log: Path) -> subprocess.Popen[bytes]:
    flags = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "--window-size=1100,720",
        "about:blank",
    ]
    return subprocess.Popen([CHROMIUM, *flags], stdout=log.open("wb"), stderr=subprocess.STDOUT)


async def devtools_port(profile: Path, chromium: subprocess.Popen[bytes]) -> int:
    marker = profile / "DevToolsActivePort"
    for _ in range(200):  # 20 s
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        if chromium.poll() is not None:
            raise RuntimeError(f"chromium exited with code {chromium.returncode}")
        await asyncio.sleep(0.1)
    raise RuntimeError("chromium did not open its DevTools port")


class Page:
    """A minimal DevTools client for one page target."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.console: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        await self._ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self._ws.receive_json(), 30)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            texts = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            self.console.append(f"{params.get('type')}: {' '.join(texts)}")
        elif method == "Runtime.exceptionThrown":
            self.console.append(f"exception: {params['exceptionDetails'].get('text')}")

    async def snapshot(self) -> dict[str, Any]:
        text = await self.evaluate("JSON.stringify(window.voxlinePlayground.snapshot())")
        return dict(json.loads(text)) if text else {}

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result.get("result", {}).get("value")


def passed(snapshot: dict[str, Any]) -> dict[str, bool]:
    transcript = snapshot.get("transcript") or []
    user = " ".join(s["text"] for s in transcript if s["user"]).lower()
    agent = " ".join(s["text"] for s in transcript if not s["user"]).lower()
    stats = snapshot.get("stats") or {}
    return {
        "connected": snapshot.get("connection") == "connected",
        # Whisper tiny hears espeak's reduced "of" as "and" now and then: the words that
        # carry the question are the check
        "user_transcript": "capital" in user and "france" in user,
        "agent_transcript": "paris" in agent,
        "agent_audio": stats.get("inboundAudioEnergy", 0) > 1e-4,
        "agent_state": bool(snapshot.get("agentState")),
    }


async def drive(
    url: str, port: int, out: Path, chat: str = "", timeout: float = PAGE_TIMEOUT
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json()
        target = next(t for t in targets if t.get("type") == "page")
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = Page(ws)
            await page.call("Runtime.enable")
            await page.call("Page.enable")
            await page.call("Page.navigate", url=url)
            for _ in range(100):
                if await page.evaluate(
                    "document.readyState === 'complete' && !!window.voxlinePlayground"
                ):
                    break
                await asyncio.sleep(0.1)
            started = time.monotonic()
            await page.evaluate("document.getElementById('connect').click()")
            snapshot: dict[str, Any] = {}
            firsts: dict[str, float] = {}
            while time.monotonic() - started < timeout:
                snapshot = await page.snapshot()
                checks = passed(snapshot)
                for name, ok in checks.items():
                    if ok and name not in firsts:
                        firsts[name] = round(time.monotonic() - started, 2)
                if all(checks.values()):
                    break
                await asyncio.sleep(0.25)
            await asyncio.sleep(1.0)  # let the rest of the answer arrive for the screenshot
            if chat:
                await page.evaluate(
                    f"document.getElementById('chat-text').value = {json.dumps(chat)};"
                    "document.querySelector('#chat button').click()"
                )
                await asyncio.sleep(1.5)
            snapshot = await page.snapshot() or snapshot
            shot = await page.call("Page.captureScreenshot", format="png")
            (out / "playground.png").write_bytes(base64.b64decode(shot["data"]))
            await page.evaluate("window.voxlinePlayground.disconnect('')")
            return {
                "checks": passed(snapshot),
                "seconds_after_connect": firsts,
                "snapshot": snapshot,
                "console": page.console[-50:],
            }


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig) if sig == signal.SIGINT else process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_command_mode(out: Path, wav: Path) -> dict[str, Any]:
    playground, url = start_playground(out / "playground.log")
    try:
        return {"url": url.split("#")[0]} | run_browser(url, out, wav)
    finally:
        stop(playground)


def run_assistant_mode(out: Path, wav: Path) -> dict[str, Any]:
    """`voxline playground examples/assistant.py`: the main job, on the real local models."""
    argv = [sys.executable, "-m", "voxline", "playground", str(ASSISTANT), "--port", "0"]
    playground, url = start_playground(out / "playground.log", argv)
    try:
        return {"url": url.split("#")[0]} | run_browser(url, out, wav, timeout=ASSISTANT_TIMEOUT)
    finally:
        stop(playground)


def run_scripted_mode(out: Path, wav: Path) -> dict[str, Any]:
    from scripted_agent import ScriptedRoom

    async def scenario() -> dict[str, Any]:
        async with ScriptedRoom() as room:
            loop = asyncio.get_running_loop()
            browser = loop.run_in_executor(None, run_browser, room.url, out, wav, "Thanks!")
            result = await browser
            return result | {"agent": await room.report()}

    return asyncio.run(scenario())


def run_browser(
    url: str, out: Path, wav: Path, chat: str = "", timeout: float = PAGE_TIMEOUT
) -> dict[str, Any]:
    # Chromium's helpers may still write to the profile as it is removed: ignore that
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        chromium = start_chromium(Path(profile), wav, out / "chromium.log")
        try:
            port = asyncio.run(devtools_port(Path(profile), chromium))
            return asyncio.run(drive(url, port, out, chat, timeout))
        finally:
            stop(chromium, signal.SIGTERM)


def main() -> int:
    mode, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    wav = out / "question.wav"
    make_question_wav(wav)
    modes = {
        "command": run_command_mode,
        "scripted": run_scripted_mode,
        "assistant": run_assistant_mode,
    }
    result = modes[mode](out, wav)
    (out / "result.json").write_text(json.dumps(result, indent=2))
    return 0 if all(result.get("checks", {}).values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
