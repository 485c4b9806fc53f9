"""Job start latency: from a dispatch request to the job's session running, warm pool.

A real `AgentServer` (default executor: an ASYNC pool of worker processes, one per core,
started and ready before the first dispatch) registers with the embedded
`voxline.server.Dispatcher` over a WebSocket on 127.0.0.1, as `tests/worker/harness.py`
sets them up. Each measured dispatch goes the whole protocol path: `create_dispatch` →
AvailabilityRequest → `on_request` accepts → JobAssignment → the pool starts the job in
a worker process → the entrypoint (`_density_agent.entrypoint`) builds a session of
zero-latency models and awaits `AgentSession.start()` → one UDP datagram back with
`time.monotonic()` taken when `start()` returned.

The clock: `time.monotonic()` on both sides. On Linux it reads CLOCK_MONOTONIC, which is
one clock for the whole machine, so a timestamp taken in a worker process can be
subtracted from one taken here.

Dispatches go one at a time (the next one once the previous session reported running,
plus a short gap); each session stays open `HOLD` seconds, so later jobs start on
processes already hosting a few sessions. The first `warmup` dispatches (each process's
first jobs) are reported apart from the measured ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from _density_agent import entrypoint
from overhead import pct

from voxline.worker import AgentServer

KEY = "devkey"
SECRET = "devsecret_devsecret_devsecret_32"
HOLD = 0.5
GAP = 0.05
REPORT_TIMEOUT = 10.0


@dataclass
class JobStart:
    """Seconds from the dispatch request, per measured job."""

    running: list[float] = field(default_factory=list)  # session.start() returned
    entered: list[float] = field(default_factory=list)  # entrypoint called
    js_running: list[float] = field(default_factory=list)  # JS_RUNNING at the dispatcher
    warmup: list[float] = field(default_factory=list)  # running, first jobs
    pids: set[int] = field(default_factory=set)
    processes: int = 0


class _Reports(asyncio.DatagramProtocol):
    """Datagrams from the jobs, as futures keyed by job id."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def expect(self, job_id: str) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[job_id] = fut
        return fut

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        message: dict[str, Any] = json.loads(data)
        fut = self.waiting.pop(str(message.get("job_id")), None)
        if fut is not None and not fut.done():
            fut.set_result(message)


async def measure_job_start(dispatches: int, warmup: int) -> JobStart:
    # imported here, not at the top: pool processes import the main script (as
    # __mp_main__), and a top-level import would preload the protocol for them, which a
    # user's agent module does not do
    from voxline.server import Dispatcher

    loop = asyncio.get_running_loop()
    reports = _Reports()
    transport, _ = await loop.create_datagram_endpoint(lambda: reports, local_addr=("127.0.0.1", 0))
    port: int = transport.get_extra_info("sockname")[1]
    dispatcher = Dispatcher(KEY, SECRET)
    await dispatcher.start()  # 127.0.0.1, ephemeral port
    # every option at its default except where it would reach beyond this benchmark: the
    # dispatcher's URL and keys, and an ephemeral port for the health endpoint
    server = AgentServer(ws_url=dispatcher.url, api_key=KEY, api_secret=SECRET, port=0)
    server.rtc_session(entrypoint)
    result = JobStart()
    try:
        await server.start()  # returns once every pool process is up and ready
        result.processes = len(server.pool.hosts)
        await dispatcher.wait_for(
            lambda: (
                server.id in dispatcher.workers and dispatcher.workers[server.id].status_reports > 0
            ),
            timeout=15,
        )
        for i in range(warmup + dispatches):
            metadata = json.dumps({"report_port": port, "hold": HOLD})
            requested_at = time.monotonic()
            record = dispatcher.create_dispatch(f"density-{i}", "", metadata)
            job_id = record.job_ids[0]
            fut = reports.expect(job_id)
            try:
                message = await asyncio.wait_for(fut, REPORT_TIMEOUT)
            except asyncio.TimeoutError:
                job = dispatcher.jobs[job_id]
                raise RuntimeError(
                    f"job {job_id} did not report its session running within "
                    f"{REPORT_TIMEOUT} s (dispatcher status {job.status_name} {job.error})"
                ) from None
            if message["lifecycle"] != "running":
                raise RuntimeError(f"job {job_id}: session is {message['lifecycle']!r}")
            running = message["running_at"] - requested_at
            if i < warmup:
                result.warmup.append(running)
            else:
                result.running.append(running)
                result.entered.append(message["entered_at"] - requested_at)
                result.pids.add(int(message["pid"]))
                job = await dispatcher.wait_for_job(
                    job_id, *_running_or_later(), timeout=REPORT_TIMEOUT
                )
                if job.running_at is not None:
                    # the dispatcher's clock is this loop's, time.monotonic() as well
                    result.js_running.append(job.running_at - job.created_at)
            await asyncio.sleep(GAP)
        await dispatcher.wait_for(
            lambda: all(j.done for j in dispatcher.jobs.values()), timeout=HOLD + 15
        )
    finally:
        await server.aclose()
        await dispatcher.aclose()
        transport.close()
    return result


def _running_or_later() -> tuple[Any, ...]:
    from livekit.protocol import agent

    s = agent.JobStatus
    return (s.JS_RUNNING, s.JS_SUCCESS, s.JS_FAILED)


def summary(r: JobStart) -> list[str]:
    ms = 1e3
    lines = [
        f"job start from a warm pool ({r.processes} ASYNC worker processes, "
        f"{len(r.running)} dispatches one at a time, sessions held {HOLD:.1f} s):",
        f"  dispatch request -> AgentSession.start() returned: "
        f"median {pct(r.running, 0.5) * ms:.1f} ms, p95 {pct(r.running, 0.95) * ms:.1f} ms, "
        f"max {max(r.running) * ms:.1f} ms  (target < 50 ms)",
        f"  dispatch request -> entrypoint called:             "
        f"median {pct(r.entered, 0.5) * ms:.1f} ms, p95 {pct(r.entered, 0.95) * ms:.1f} ms",
    ]
    if r.js_running:
        lines.append(
            f"  dispatch request -> JS_RUNNING at the dispatcher:  "
            f"median {pct(r.js_running, 0.5) * ms:.1f} ms, "
            f"p95 {pct(r.js_running, 0.95) * ms:.1f} ms"
        )
    if r.warmup:
        first = ", ".join(f"{x * ms:.1f}" for x in r.warmup)
        lines.append(f"  first {len(r.warmup)} jobs of the pool (not counted): {first} ms")
    lines.append(f"  measured jobs ran in {len(r.pids)} process(es)")
    return lines
