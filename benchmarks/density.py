"""How many voice sessions one core sustains in real time, with zero-latency fake models.

Each session gets a fresh 20 ms audio frame every 20 ms (absolute schedule) and a user turn
every few seconds (VAD start, final transcript, VAD end, a reply played in real time). The
limit is the largest session count whose p99 frame lateness (when a frame reaches the
session's input loop vs when it was due) stays under 20 ms: beyond that, audio piles up.
Also printed: CPU per session-minute at that load, RSS with 1, 10 and 100 open sessions, and
job start latency: a real AgentServer (ASYNC pool of worker processes) dispatched by the
embedded Dispatcher over 127.0.0.1, from the dispatch request to the job's
`AgentSession.start()` returning (`_density_jobstart.py`).

    .venv/bin/python benchmarks/density.py     # under 3 minutes: the load steps stop at --budget
    .venv/bin/python benchmarks/density.py --max 200 --seconds 6 --dispatches 20
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _density_jobstart import measure_job_start, summary
from overhead import (
    FRAME_SECONDS,
    REPLY_FRAMES,
    TURN_PERIOD,
    Rig,
    _drive_turns,
    make_rig,
    pct,
    rss_mb,
    silence,
    start_rig,
)

from voxline.audio import AudioFrame
from voxline.voice.io import AudioInput

LATENESS_LIMIT = 0.020


class TimedInput(AudioInput):
    """Real-time frames that record how late each one was taken by the session."""

    def __init__(self, lateness: list[float]) -> None:
        self.closed = False
        self.frames = 0
        self._lateness = lateness

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not self.closed:
            due += FRAME_SECONDS
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._lateness.append(max(0.0, loop.time() - due))
            self.frames += 1
            yield silence()


async def run_load(sessions: int, seconds: float) -> tuple[float, float, int]:
    """p99 lateness (s), CPU s per session-minute, turns completed."""
    lateness: list[float] = []
    inputs = [TimedInput(lateness) for _ in range(sessions)]
    rigs: list[Rig] = [
        make_rig(playout="realtime", tts_frames=REPLY_FRAMES, audio_in=i) for i in inputs
    ]
    for rig in rigs:
        await start_rig(rig)
    await asyncio.sleep(0.5)
    lateness.clear()
    loop = asyncio.get_running_loop()
    counter = [0]
    until = loop.time() + seconds
    cpu0, wall0 = time.process_time(), time.perf_counter()
    drivers = [
        loop.create_task(_drive_turns(rig, TURN_PERIOD * k / sessions, until, counter))
        for k, rig in enumerate(rigs)
    ]
    await asyncio.sleep(max(0.0, until - loop.time()))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    p99 = pct(lateness, 0.99)
    await asyncio.gather(*drivers)
    for i in inputs:
        i.closed = True
    await asyncio.wait_for(asyncio.gather(*(r.session.aclose() for r in rigs)), 20.0)
    return p99, cpu / (sessions * wall / 60.0), counter[0]


async def memory_at(counts: list[int]) -> list[tuple[int, float]]:
    out: list[tuple[int, float]] = []
    for n in counts:
        gc.collect()
        before = rss_mb()
        inputs = [TimedInput([]) for _ in range(n)]
        rigs = [make_rig(playout="instant", tts_frames=1, audio_in=i) for i in inputs]
        for rig in rigs:
            await start_rig(rig)
        await asyncio.sleep(2.0)  # 100 frames each: steady state
        gc.collect()
        out.append((n, rss_mb() - before))
        for i in inputs:
            i.closed = True
        await asyncio.wait_for(asyncio.gather(*(r.session.aclose() for r in rigs)), 20.0)
    return out


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} (1/5/15 min) at the start"
    )
    # memory first, in a process that has not yet freed memory it could reuse
    memory = await memory_at([1, 10, 100])
    # before the load steps: the server's default load measure (its processes' CPU over
    # the last 2.5 s) must not still see them
    job_start = await measure_job_start(args.dispatches, args.warmup)
    print(
        f"density: {args.seconds:.0f} s per step, limit p99 lateness {LATENESS_LIMIT * 1e3:.0f} ms"
    )
    print(f"{'sessions':>8}  {'p99 late ms':>11}  {'CPU s/session-min':>17}  {'turns':>5}")
    best: tuple[int, float] | None = None
    n = args.start
    steps_from = loop.time()
    step_cost = 0.0
    while n <= args.max:
        if loop.time() + step_cost > steps_from + args.budget:
            print(f"(stopped: the next step would pass the {args.budget:.0f} s budget)")
            break
        step_at = loop.time()
        p99, cpu, turns = await run_load(n, args.seconds)
        step_cost = loop.time() - step_at
        print(f"{n:>8}  {p99 * 1e3:>11.1f}  {cpu:>17.3f}  {turns:>5}", flush=True)
        if p99 > LATENESS_LIMIT:
            break
        best = (n, cpu)
        n += args.step
    if best is None:
        print("no load level stayed under the limit")
    else:
        print(
            f"sustained in real time on one core: {best[0]} sessions "
            f"({best[1]:.3f} CPU s per session-minute at that load)"
        )
    for count, mb in memory:
        print(f"RSS with {count:>3} open sessions: +{mb:.1f} MB ({mb / count:.3f} MB per session)")
    for line in summary(job_start):
        print(line)
    print(f"total {loop.time() - began:.0f} s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=int, default=20)
    parser.add_argument("--step", type=int, default=20)
    parser.add_argument("--max", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--budget", type=float, default=120.0, help="wall-clock seconds for the load steps"
    )
    parser.add_argument("--dispatches", type=int, default=50, help="measured job starts")
    parser.add_argument("--warmup", type=int, default=4, help="job starts not counted")
    args = parser.parse_args()
    args.max = min(args.max, 1000)
    if not 1 <= args.dispatches <= 500 or not 0 <= args.warmup <= 50:
        parser.error("--dispatches must be in 1..500 and --warmup in 0..50")
    args.budget = min(max(args.budget, 0.0), 600.0)
    # at least two turn periods, so every session speaks at least once per step
    args.seconds = min(max(args.seconds, 2 * TURN_PERIOD), 30.0)
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
