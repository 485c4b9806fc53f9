"""The entrypoint `density.py` dispatches to measure job start latency.

It lives in its own module because the AgentServer's pool processes receive the
entrypoint by pickling (module and name) and import it there; a function defined in the
script itself would be `__main__.entrypoint`, which a pool process cannot import.

The job's metadata (JSON) carries the UDP port on 127.0.0.1 where the benchmark listens
and how long to keep the session open. The entrypoint builds a session of zero-latency
fake models (`overhead.py`'s) with a real-time silence input, starts it, and the moment
`AgentSession.start()` returns it sends `time.monotonic()` back in one datagram.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import RealtimeAudioInput, make_rig

from voxline import Agent
from voxline.worker import JobContext


def _spec(ctx: JobContext) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(ctx.job.metadata or "{}")
    if not isinstance(spec.get("report_port"), int):
        raise ValueError("the benchmark job needs its metadata's report_port (an int)")
    return spec


def _report(port: int, message: dict[str, Any]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(json.dumps(message).encode(), ("127.0.0.1", port))


async def entrypoint(ctx: JobContext) -> None:
    # time.monotonic() is CLOCK_MONOTONIC, one clock for every process on Linux, so the
    # benchmark can subtract its dispatch time (taken in another process) from these.
    # (Not the loop clock: an event loop may define its own, coarser, time().)
    entered_at = time.monotonic()
    spec = _spec(ctx)
    audio_in = RealtimeAudioInput()
    rig = make_rig(playout="instant", tts_frames=1, audio_in=audio_in)
    await rig.session.start(Agent(instructions="You are a benchmark."))
    running_at = time.monotonic()
    _report(
        spec["report_port"],
        {
            "job_id": ctx.job.id,
            "entered_at": entered_at,
            "running_at": running_at,
            "pid": os.getpid(),
            "lifecycle": rig.session.lifecycle,
        },
    )
    # keep the session open a while, as a call would, so later dispatches land on
    # processes that are already hosting sessions
    await asyncio.sleep(float(spec.get("hold", 0.5)))
    audio_in.closed = True
    ctx.shutdown("benchmark session done")
