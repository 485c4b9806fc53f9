"""End of user speech -> first agent audio, on the offline defaults, through the console's WAV path.

Spoken questions (espeak-ng) are laid out in one input WAV with long gaps for the answers; the
assistant of `examples/assistant.py` runs as a real AgentServer job under
`voxline console --input-wav IN --output-wav OUT`, whose output WAV shares the input's timeline.
So the latency of a turn is read from the two files: from the last voiced 10 ms of the question
to the first voiced 10 ms of the answer. The session's metrics split it into STT (end of speech
to final transcript), the turn decision, LLM time to first token and TTS time to first audio.

Then memory: RSS of one process with the models loaded, and with 1, 5 and 20 sessions started
(the models are shared by the sessions of a process).

    python benchmarks/local_e2e.py [--turns 6] [--skip-memory]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import assistant

from voxline import AgentServer, AgentSession, JobContext
from voxline.audio import AudioFrame, read_wav, write_wav
from voxline.cli import app
from voxline.voice.events import MetricsCollectedEvent

RATE = 16000
QUESTIONS = [
    "What time is it?",
    "What is twelve times seven?",
    "What is the capital of France?",
    "Tell me one fact about the moon.",
    "How many legs does a spider have?",
    "What colour is the sky?",
    "What is ten plus five?",
    "Name a fruit that is yellow.",
]
LEAD_IN = 12.0  # before the first question: models load, the prompt is read, the greeting plays
GAP = 9.0  # after each question: room for the answer
VOICED_DBFS = -40.0


def espeak(text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed to speak the questions: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)
        frame = read_wav(path)
    from voxline.audio import AudioResampler

    resampler = AudioResampler(frame.sample_rate, RATE)
    frames = resampler.push(frame) + resampler.flush()
    audio = np.concatenate([f.to_float32().reshape(-1) for f in frames])
    voiced = voiced_windows(audio, RATE)
    return audio[: (voiced[-1] + 1) * RATE // 100] if voiced.size else audio


def voiced_windows(audio: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
    """Indices of the 10 ms windows louder than VOICED_DBFS."""
    n = rate // 100
    usable = audio[: audio.size // n * n].astype(np.float64).reshape(-1, n)
    rms = np.sqrt(np.mean(usable**2, axis=1)) + 1e-12
    return np.nonzero(20 * np.log10(rms) > VOICED_DBFS)[0]


def build_input(path: Path, questions: list[str]) -> list[float]:
    """Writes the input WAV; returns the end time of each question."""
    parts = [np.zeros(round(LEAD_IN * RATE), np.float32)]
    ends: list[float] = []
    t = LEAD_IN
    for q in questions:
        speech = espeak(q)
        parts.append(speech)
        t += speech.size / RATE
        ends.append(t)
        parts.append(np.zeros(round(GAP * RATE), np.float32))
        t += GAP
    write_wav(path, AudioFrame.from_numpy(np.concatenate(parts), RATE))
    return ends


def answer_onsets(path: Path, question_ends: list[float]) -> list[float | None]:
    out = read_wav(path)
    audio = out.to_float32().reshape(-1)
    voiced = voiced_windows(audio, out.sample_rate) / 100.0
    onsets: list[float | None] = []
    for i, end in enumerate(question_ends):
        limit = question_ends[i + 1] if i + 1 < len(question_ends) else float("inf")
        after = voiced[(voiced >= end) & (voiced < limit)]
        onsets.append(float(after[0]) - end if after.size else None)
    return onsets


def run_console(in_wav: Path, out_wav: Path, sessions: list[AgentSession[None]]) -> None:
    server = AgentServer()

    async def entrypoint(ctx: JobContext) -> None:
        session = assistant.make_session()
        sessions.append(session)
        await session.start(agent=assistant.Assistant(), room=ctx.room)

    server.rtc_session(entrypoint)
    result = CliRunner().invoke(
        app,
        [
            "console",
            "--input-wav",
            str(in_wav),
            "--output-wav",
            str(out_wav),
            "--trailing-silence",
            "1.0",
            "--settle",
            "1.0",
        ],
        obj=server,
    )
    if result.exit_code != 0:
        raise SystemExit(f"console failed ({result.exit_code}):\n{result.output}")


def turn_metrics(events: list[MetricsCollectedEvent]) -> list[dict[str, float]]:
    """Per user turn: STT delay, turn decision delay, LLM ttft and TTS ttfb of its reply."""
    turns: list[dict[str, float]] = []
    for ev in events:
        m = ev.metrics
        kind = type(m).__name__
        if kind == "EOUMetrics":
            turns.append(
                {
                    "stt": float(m.transcription_delay),
                    "turn": float(m.end_of_utterance_delay),
                }
            )
        elif kind == "LLMMetrics" and turns and "llm" not in turns[-1]:
            turns[-1]["llm"] = float(m.ttft)
        elif kind == "TTSMetrics" and turns and "tts" not in turns[-1]:
            turns[-1]["tts"] = float(m.ttfb)
    return turns


def _trace(session: AgentSession[None], lines: list[str]) -> None:
    """Record the session's turn-taking events on the loop clock (seconds from the first;
    printed after the run, since the console owns the terminal while it runs)."""
    loop = asyncio.get_event_loop()
    origin: list[float] = []

    def show(what: str) -> None:
        t = loop.time()
        origin[:] = origin or [t]
        lines.append(f"  [{t - origin[0]:7.2f}] {what}")

    session.on("user_state_changed", lambda ev: show(f"user {ev.new_state}"))
    session.on("agent_state_changed", lambda ev: show(f"agent {ev.new_state}"))
    session.on(
        "user_input_transcribed",
        lambda ev: ev.is_final and show(f"final transcript {ev.transcript!r}"),
    )
    session.on("metrics_collected", lambda ev: show(f"{type(ev.metrics).__name__}"))


def latency(turns: int, trace: bool = False) -> None:
    questions = QUESTIONS[:turns]
    with tempfile.TemporaryDirectory() as tmp:
        in_wav, out_wav = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        ends = build_input(in_wav, questions)
        sessions: list[AgentSession[None]] = []
        metrics: list[MetricsCollectedEvent] = []
        trace_lines: list[str] = []
        original = assistant.make_session

        def recording_session() -> AgentSession[None]:
            session = original()
            session.on("metrics_collected", metrics.append)
            if trace:
                _trace(session, trace_lines)
            return session

        assistant.make_session = recording_session
        try:
            run_console(in_wav, out_wav, sessions)
        finally:
            assistant.make_session = original
        onsets = answer_onsets(out_wav, ends)
        history = sessions[0].history.items if sessions else []

    if trace_lines:
        print(
            "events (seconds from the session's first event; questions end at "
            + ", ".join(f"{e - LEAD_IN:.2f}" for e in ends)
            + " from the input's start):"
        )
        print("\n".join(trace_lines))
    parts = turn_metrics(metrics)
    print(f"{'turn':<36} {'e2e s':>6} {'stt':>6} {'turn':>6} {'llm':>6} {'tts':>6}")
    for i, (q, onset) in enumerate(zip(questions, onsets)):
        p = parts[i] if i < len(parts) else {}

        def f(key: str, p: dict[str, float] = p) -> str:
            return f"{p[key]:6.2f}" if key in p else f"{'-':>6}"

        e2e = f"{onset:6.2f}" if onset is not None else f"{'none':>6}"
        print(f"{q:<36} {e2e} {f('stt')} {f('turn')} {f('llm')} {f('tts')}")
    measured = [o for o in onsets if o is not None]
    if measured:
        print(
            f"\nend of speech -> first agent audio: median {statistics.median(measured):.2f} s, "
            f"min {min(measured):.2f}, max {max(measured):.2f} over {len(measured)} turns"
        )
    print("\nconversation:")
    for item in history:
        role = getattr(item, "role", None)
        if role in ("user", "assistant"):
            print(f"  {role}: {getattr(item, 'text_content', '')}")
        elif getattr(item, "type", "") == "function_call":
            print(f"  tool call: {item.name}({item.arguments})")  # type: ignore[attr-defined]


async def _memory(counts: list[int]) -> None:
    """In a fresh process: RSS before the models, with them loaded, then with N sessions."""
    from voxline.plugins import llama, piper, silero, turn_detector, whisper
    from voxline.testing import FakeAudioInput, FakeAudioOutput

    proc = psutil.Process(os.getpid())

    def rss() -> float:
        gc.collect()
        return float(proc.memory_info().rss) / 1e6

    base = rss()
    # the models are shared by every session of the process: load each once
    await whisper.STT().load()
    await llama.LLM().load()
    await piper.TTS().load()
    await asyncio.to_thread(silero.VAD.load)
    await asyncio.to_thread(turn_detector.SmartTurn.load)
    loaded = rss()
    print(f"\nmemory (one process): {base:.0f} MB before the models, {loaded:.0f} MB with them")
    sessions: list[AgentSession[None]] = []
    for count in counts:
        while len(sessions) < count:
            s = assistant.make_session()
            s.input.audio = FakeAudioInput()
            s.output.audio = FakeAudioOutput()
            await s.start(agent=assistant.Assistant())
            sessions.append(s)
        await asyncio.sleep(1.0)
        print(f"  {count:>3} sessions: {rss():.0f} MB (+{rss() - loaded:.1f} MB)")
    for s in sessions:
        await s.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--trace", action="store_true", help="print the session's events")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_only:
        asyncio.run(_memory([1, 5, 20]))
        return
    latency(max(1, min(args.turns, len(QUESTIONS))), trace=args.trace)
    if not args.skip_memory:
        subprocess.run([sys.executable, __file__, "--memory-only"], check=True)


if __name__ == "__main__":
    main()
