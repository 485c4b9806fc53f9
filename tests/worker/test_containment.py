"""Crash containment, executors and process limits: a failing job fails alone."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from livekit.protocol import agent

from voxline.worker import AgentServer, JobContext, JobExecutorType, pool
from worker import agents
from worker.harness import bounded, cluster, read, spec, wait_for_file

SUCCESS = agent.JobStatus.JS_SUCCESS
FAILED = agent.JobStatus.JS_FAILED
RUNNING = agent.JobStatus.JS_RUNNING


@bounded(40)
async def test_an_entrypoint_that_raises_fails_alone(tmp_path: Path) -> None:
    async with cluster({}) as (d, [_server]):
        steady = d.create_dispatch("steady", "", spec(tmp_path, "hang")).job_ids[0]
        await d.wait_for_job(steady, RUNNING)
        broken = d.create_dispatch("broken", "", spec(tmp_path, "raise")).job_ids[0]
        failed = await d.wait_for_job(broken)
        assert failed.status == FAILED
        assert "ValueError: the entrypoint broke on purpose" in failed.error
        # same process, still serving: the other session runs on, new jobs start
        assert d.jobs[steady].status == RUNNING
        after = d.create_dispatch("after", "", spec(tmp_path)).job_ids[0]
        await d.wait_for_job(after, SUCCESS)
        assert read(tmp_path, after)["pid"] == read(tmp_path, steady)["pid"]
        # the report of the failed job says why
        report = await wait_for_file(tmp_path, broken, "report")
        assert report["status"] == "failed" and "broke on purpose" in report["error"]

        d.terminate_job(steady)
        ended = await d.wait_for_job(steady)
        assert ended.status == SUCCESS
        report = await wait_for_file(tmp_path, steady, "report")
        assert report["shutdown_reason"] == "terminated by the server"


@bounded(40)
async def test_an_entrypoint_that_hangs_past_its_timeout_fails_alone(tmp_path: Path) -> None:
    async with cluster({"entrypoint_timeout": 0.5}) as (d, [_server]):
        hung = d.create_dispatch("hung", "", spec(tmp_path, "hang")).job_ids[0]
        quick = d.create_dispatch("quick", "", spec(tmp_path, "sleep", seconds=0.1)).job_ids[0]
        assert (await d.wait_for_job(quick)).status == SUCCESS
        failed = await d.wait_for_job(hung)
        assert failed.status == FAILED
        assert failed.error == "entrypoint timed out after 0.5 s"


@bounded(60)
async def test_a_job_process_dying_mid_job_is_detected_and_replaced(tmp_path: Path) -> None:
    async with cluster({}) as (d, [server]):
        bystander = d.create_dispatch("bystander", "", spec(tmp_path, "hang")).job_ids[0]
        await d.wait_for_job(bystander, RUNNING)
        victim = d.create_dispatch("victim", "", spec(tmp_path, "crash", seconds=0.3)).job_ids[0]
        first = await d.wait_for_job(victim)
        assert first.status == FAILED
        assert first.error == "job process exited unexpectedly (exit code -9)"
        # the whole process went down with it: so did the job sharing it
        other = await d.wait_for_job(bystander)
        assert other.status == FAILED and other.error == first.error
        # the pool replaces the process and the server keeps taking jobs
        after = d.create_dispatch("after", "", spec(tmp_path)).job_ids[0]
        await d.wait_for_job(after, SUCCESS, timeout=15)
        old_pid = read(tmp_path, victim)["pid"]
        assert read(tmp_path, after)["pid"] != old_pid
        assert len(server.pool.hosts) == 1
        with pytest.raises(ProcessLookupError):
            os.kill(old_pid, 0)


@bounded(60)
async def test_a_process_over_its_memory_limit_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "MEMORY_CHECK_INTERVAL", 0.1)
    async with cluster({"job_memory_limit_mb": 150}) as (d, [_server]):
        job_id = d.create_dispatch("fat", "", spec(tmp_path, "allocate", mb=200)).job_ids[0]
        failed = await d.wait_for_job(job_id, timeout=15)
        assert failed.status == FAILED
        assert failed.error.startswith("memory limit exceeded (")
        assert failed.error.endswith(" MB > 150 MB)")


@bounded(60)
async def test_many_jobs_share_one_async_process(tmp_path: Path) -> None:
    async with cluster({}) as (d, [server]):
        ids = [
            d.create_dispatch(f"room-{i}", "", spec(tmp_path, "sleep", seconds=1.0)).job_ids[0]
            for i in range(20)
        ]
        [host] = server.pool.hosts
        jobs = [await d.wait_for_job(job_id, timeout=15) for job_id in ids]
        assert all(job.status == SUCCESS for job in jobs)
        # all twenty were running at the same time, in the one process
        assert max(j.running_at or 0.0 for j in jobs) < min(j.ended_at or 0.0 for j in jobs)
        assert {read(tmp_path, j)["pid"] for j in ids} == {host.pid}


@bounded(60)
async def test_process_executor_runs_each_job_in_its_own_process(tmp_path: Path) -> None:
    options = {"job_executor_type": JobExecutorType.PROCESS, "num_idle_processes": 2}
    async with cluster(options) as (d, [_server]):
        ids = []
        for i in range(3):
            # one offer at a time: simultaneous offers are refused beyond the warm processes'
            # share of the load threshold (LiveKit's reservation rule)
            job_id = d.create_dispatch(f"room-{i}", "", spec(tmp_path, "sleep", seconds=0.3))
            ids.append(job_id.job_ids[0])
            await d.wait_for_job(ids[-1], RUNNING, SUCCESS, timeout=15)
        for job_id in ids:
            assert (await d.wait_for_job(job_id, timeout=15)).status == SUCCESS
        pids = {read(tmp_path, j)["pid"] for j in ids}
        assert len(pids) == 3
        assert all(read(tmp_path, j)["userdata"]["model"] == "loaded once" for j in ids)


@bounded(40)
async def test_thread_executor_takes_closures(tmp_path: Path) -> None:
    seen: list[str] = []

    async def entry(ctx: JobContext) -> None:  # a closure: fine in a thread
        seen.append(ctx.room.name)

    options = {"job_executor_type": JobExecutorType.THREAD, "entrypoint": entry}
    async with cluster(options) as (d, [_server]):
        job_id = d.create_dispatch("threaded", "", "").job_ids[0]
        assert (await d.wait_for_job(job_id)).status == SUCCESS
        assert seen == ["threaded"]


async def test_process_executors_refuse_closures_with_a_clear_error() -> None:
    async def entry(ctx: JobContext) -> None:
        pass

    server = AgentServer(port=0, num_idle_processes=1)
    server.rtc_session()(entry)
    with pytest.raises(TypeError, match=r"module-level function; use JobExecutorType\.THREAD"):
        await asyncio.wait_for(server.start(), 10)
    await server.aclose()


def test_one_entrypoint_per_server() -> None:
    server = AgentServer()
    server.rtc_session()(agents.entrypoint)
    with pytest.raises(RuntimeError, match="only one rtc_session per server"):
        server.rtc_session(agent_name="other")(agents.write_report)
