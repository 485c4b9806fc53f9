"""Connection, draining, signals and death: the worker's life around its jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from livekit.protocol import agent

from voxline.server import Dispatcher
from voxline.worker import AgentServer, ConnectionFailedError, JobContext, protocol
from worker import agents
from worker.harness import (
    KEY,
    SECRET,
    bounded,
    cluster,
    make_server,
    outcomes,
    read,
    spec,
    until,
    wait_for_file,
)

SUCCESS = agent.JobStatus.JS_SUCCESS
FAILED = agent.JobStatus.JS_FAILED
RUNNING = agent.JobStatus.JS_RUNNING
TESTS = Path(__file__).resolve().parent.parent


@bounded(60)
async def test_reconnects_after_the_dispatcher_restarts_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    first = Dispatcher(KEY, SECRET)
    port = await first.start()
    server = make_server(first)
    await server.start()
    second: Dispatcher | None = None
    try:
        await first.wait_for(lambda: server.id in first.workers)
        old_id = server.id
        running = first.create_dispatch("long", "", spec(tmp_path, "hang")).job_ids[0]
        await first.wait_for_job(running, RUNNING)
        await first.aclose()

        second = Dispatcher(KEY, SECRET)
        await second.start(port=port)
        await second.wait_for(lambda: server.id in second.workers, timeout=20)
        assert server.id != old_id
        # the job kept running through the outage and the new dispatcher adopted it
        adopted = await second.wait_for_job(running, RUNNING)
        assert adopted.worker_id == server.id
        kinds = [m.kind for m in second.messages_of(server.id) if m.direction == "recv"]
        assert kinds[0] == "register" and "migrate_job" in kinds
        # and it is dispatched to again
        fresh = second.create_dispatch("fresh", "", spec(tmp_path)).job_ids[0]
        assert (await second.wait_for_job(fresh)).status == SUCCESS
        second.terminate_job(running)
        assert (await second.wait_for_job(running)).status == SUCCESS
    finally:
        await server.aclose()
        if second is not None:
            await second.aclose()
        await first.aclose()


@bounded(60)
async def test_drain_stops_taking_jobs_and_waits_for_running_ones(tmp_path: Path) -> None:
    async with cluster({}, dispatch_timeout=0.3) as (d, [server]):
        job_id = d.create_dispatch("talking", "", spec(tmp_path, "sleep", seconds=2.0)).job_ids[0]
        await d.wait_for_job(job_id, RUNNING)
        drain = asyncio.ensure_future(server.drain(timeout=20))
        await d.wait_for(lambda: d.workers[server.id].draining)
        assert d.workers[server.id].status == agent.WorkerStatus.WS_FULL
        refused = await d.wait_for_job(d.create_dispatch("late", "", "").job_ids[0])
        assert refused.status == FAILED
        assert not drain.done()
        await drain
        assert d.jobs[job_id].status == SUCCESS
        assert server.active_jobs == []


@bounded(60)
async def test_drain_timeout_ends_the_remaining_jobs(tmp_path: Path) -> None:
    async with cluster({}) as (d, [server]):
        job_id = d.create_dispatch("stuck", "", spec(tmp_path, "hang")).job_ids[0]
        await d.wait_for_job(job_id, RUNNING)
        await server.drain(timeout=0.3)
        assert (await d.wait_for_job(job_id)).status == SUCCESS
        report = await wait_for_file(tmp_path, job_id, "report")
        assert report["shutdown_reason"] == "worker drain timed out"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@bounded(30)
async def test_gives_up_after_max_retry_and_reports_unhealthy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(protocol, "RETRY_BASE_DELAY", 0.5)
    d = Dispatcher(KEY, SECRET)  # never started: nothing listens on its port
    d._host, d._port = "127.0.0.1", free_port()
    server = make_server(d, max_retry=2)
    run = asyncio.ensure_future(server.run())
    await until(lambda: server.http_port is not None)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{server.http_port}/") as resp:
            assert resp.status == 200  # still retrying (0.5 s, then 1 s)
    with pytest.raises(ConnectionFailedError, match="after 2 attempts"):
        await run
    assert not server._healthy()


@bounded(40)
async def test_health_endpoints(tmp_path: Path) -> None:
    async with cluster({"agent_name": "helper"}) as (_d, [server]):
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{server.http_port}"
            async with http.get(base + "/") as resp:
                assert resp.status == 200 and await resp.text() == "OK"
            async with http.get(base + "/worker") as resp:
                info = await resp.json()
        assert info["agent_name"] == "helper"
        assert info["worker_id"] == server.id
        assert info["status"] == "available" and info["active_jobs"] == 0
        assert info["executor_type"] == "async" and len(info["processes"]) == 1


@asynccontextmanager
async def worker_program(url: str) -> AsyncIterator[asyncio.subprocess.Process]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), *sys.path]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker.serve_agent", url, env=env, cwd=str(TESTS)
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@bounded(60)
async def test_sigterm_drains_a_worker_program(tmp_path: Path) -> None:
    d = Dispatcher(KEY, SECRET, dispatch_timeout=0.3)
    await d.start()
    try:
        async with worker_program(d.url) as proc:
            await d.wait_for(lambda: len(d.workers) == 1, timeout=30)
            [worker_id] = d.workers
            job_id = d.create_dispatch("r", "", spec(tmp_path, "sleep", seconds=1.5)).job_ids[0]
            await d.wait_for_job(job_id, RUNNING)
            proc.send_signal(signal.SIGTERM)
            await d.wait_for(lambda: d.workers[worker_id].draining)
            assert d.workers[worker_id].status == agent.WorkerStatus.WS_FULL
            assert (await d.wait_for_job(job_id)).status == SUCCESS
            assert await asyncio.wait_for(proc.wait(), 15) == 0
            await d.wait_for(lambda: worker_id not in d.workers)
    finally:
        await d.aclose()


@bounded(60)
async def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    d = Dispatcher(KEY, SECRET)
    await d.start()
    try:
        async with worker_program(d.url) as proc:
            await d.wait_for(lambda: len(d.workers) == 1, timeout=30)
            [worker_id] = d.workers
            job_id = d.create_dispatch("r", "", spec(tmp_path, "hang")).job_ids[0]
            await d.wait_for_job(job_id, RUNNING)
            proc.send_signal(signal.SIGTERM)
            await d.wait_for(lambda: d.workers[worker_id].draining)
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 10) == 0
            assert (await d.wait_for_job(job_id)).status == FAILED
            pid = (await wait_for_file(tmp_path, job_id))["pid"]
            await until(lambda: not _alive(pid), timeout=10)
    finally:
        await d.aclose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@bounded(60)
async def test_a_killed_worker_fails_its_jobs_which_are_redispatched(tmp_path: Path) -> None:
    async with cluster({}, redispatch_on_worker_death=True) as (d, [survivor]):
        survivor_ended = outcomes(survivor)
        async with worker_program(d.url) as proc:
            await d.wait_for(lambda: len(d.workers) == 2, timeout=30)
            [doomed] = [w for w in d.workers if w != survivor.id]
            d.workers[doomed].load = -1.0  # offered first
            job_id = d.create_dispatch("r", "", spec(tmp_path, "hang")).job_ids[0]
            job = await d.wait_for_job(job_id, RUNNING)
            assert job.worker_id == doomed
            pid = (await wait_for_file(tmp_path, job_id))["pid"]
            proc.kill()
            failed = await d.wait_for_job(job_id)
            assert failed.status == FAILED and failed.error == "worker disconnected"
            # the same dispatch is run again by the survivor
            await d.wait_for(lambda: len(d.dispatches[job.dispatch_id].job_ids) == 2)
            retry = d.dispatches[job.dispatch_id].job_ids[1]
            assert (await d.wait_for_job(retry, RUNNING)).worker_id == survivor.id
            # the dead worker's job process does not outlive it
            await until(lambda: not _alive(pid), timeout=10)
        d.terminate_job(retry)
        assert (await d.wait_for_job(retry)).status == SUCCESS
        await until(lambda: any(o.job_id == retry for o in survivor_ended))


@bounded(40)
async def test_a_job_can_delete_its_room_through_the_server_api(tmp_path: Path) -> None:
    async with cluster({}) as (d, [_server]):
        job_id = d.create_dispatch("doomed-room", "", spec(tmp_path, "delete_room")).job_ids[0]
        assert (await d.wait_for_job(job_id, timeout=20)).status == SUCCESS
        assert "doomed-room" not in d.rooms
        report = await wait_for_file(tmp_path, job_id, "report")
        assert report["shutdown_reason"] == "terminated by the server"


@bounded(40)
async def test_simulated_jobs_run_in_process_without_a_server(tmp_path: Path) -> None:
    """What `voxline.cli`'s console and connect commands call: one job, in this process and
    loop, no dispatch, returning when the job has ended."""
    server = AgentServer(port=0, load_fnc=lambda: 0.0, setup_fnc=agents.prewarm)

    @server.rtc_session  # bare, as the CLI documents it
    async def entry(ctx: JobContext) -> None:
        await agents.entrypoint(ctx)

    assert server.entrypoint is entry
    ended = outcomes(server)
    await server.simulate_job("console", console_io=None, metadata=spec(tmp_path, "session"))
    [outcome] = ended
    assert outcome.status == "success" and outcome.report is not None
    report = outcome.report
    assert report["room"] == "console" and report["fake_job"] is False
    assert len(report["history"]["items"]) == 3
    seen = read(tmp_path, outcome.job_id)
    assert seen["pid"] == os.getpid() and seen["userdata"]["model"] == "loaded once"
    assert seen["current_is_ctx"] is True

    # cancelled by its caller, the job still shuts down in order
    job = asyncio.ensure_future(server.simulate_job("c2", metadata=spec(tmp_path, "hang")))
    await until(lambda: len(ended) == 1 and bool(server.active_jobs))
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert ended[-1].room == "c2" and ended[-1].report is not None
    assert ended[-1].report["shutdown_reason"] == "cancelled"
    assert server.active_jobs == []
