"""The real AgentServer dispatched by the embedded Dispatcher, over real WebSockets."""

from __future__ import annotations

from pathlib import Path

import pytest
from livekit import api
from livekit.protocol import agent

from voxline.worker import JobRequest
from worker.harness import KEY, SECRET, bounded, cluster, read, spec, wait_for_file

SUCCESS = agent.JobStatus.JS_SUCCESS
FAILED = agent.JobStatus.JS_FAILED
RUNNING = agent.JobStatus.JS_RUNNING


@bounded(40)
async def test_automatic_dispatch_runs_the_entrypoint_with_a_room_token(tmp_path: Path) -> None:
    async with cluster({}) as (d, [server]):
        room = d.create_room("lobby", metadata="")
        [job] = d.jobs_in_room("lobby")
        done = await d.wait_for_job(job.id)
        assert done.status == SUCCESS
        assert done.worker_id == server.id
        assert done.participant_identity == f"agent-{job.id}"
        claims = api.TokenVerifier(KEY, SECRET).verify(done.token)
        assert claims.identity == f"agent-{job.id}"
        assert claims.video is not None and claims.video.room == "lobby"
        assert claims.video.room_join and claims.kind == "agent"
        assert room.job_ids == [job.id]

        dispatch = d.create_dispatch("lobby-2", "", spec(tmp_path))
        [job_id] = dispatch.job_ids
        await d.wait_for_job(job_id, SUCCESS)
        seen = read(tmp_path, job_id)
        assert seen["room"] == "lobby-2"
        assert seen["identity"] == f"agent-{job_id}"
        assert seen["token"] == d.jobs[job_id].token
        assert seen["url"] == d.url
        assert seen["current_is_ctx"] is True


@bounded(40)
async def test_prewarm_userdata_is_visible_to_jobs(tmp_path: Path) -> None:
    async with cluster({}) as (d, _):
        ids = [d.create_dispatch(f"room-{i}", "", spec(tmp_path)).job_ids[0] for i in range(2)]
        for job_id in ids:
            await d.wait_for_job(job_id, SUCCESS)
        seen = [read(tmp_path, job_id) for job_id in ids]
        assert all(s["userdata"]["model"] == "loaded once" for s in seen)
        # one ASYNC process: prewarmed once, both jobs ran there
        assert {s["pid"] for s in seen} == {seen[0]["userdata"]["prewarmed_by"]}


@bounded(40)
async def test_named_agent_gets_only_explicit_dispatches(tmp_path: Path) -> None:
    async with cluster({"agent_name": "alice"}) as (d, [alice]):
        d.create_room("no-auto")
        assert d.jobs_in_room("no-auto") == []  # no unnamed worker: nothing automatic

        dispatch = d.create_dispatch("no-auto", "alice", spec(tmp_path, greeting="hi"))
        job = await d.wait_for_job(dispatch.job_ids[0], SUCCESS)
        assert job.worker_id == alice.id
        seen = read(tmp_path, job.id)
        assert '"greeting": "hi"' in seen["metadata"]

        other = d.create_dispatch("no-auto", "bob", "")
        d.dispatch_timeout = 0.5
        failed = await d.wait_for_job(other.job_ids[0])
        assert failed.status == FAILED
        assert "no available worker for agent 'bob'" in failed.error


async def refuse(request: JobRequest) -> None:
    await request.reject()


@bounded(40)
async def test_rejection_offers_the_job_to_another_worker(tmp_path: Path) -> None:
    async with cluster({"on_request": refuse}, {}, dispatch_timeout=0.5) as (d, [picky, willing]):
        # equal load: the worker registered first is offered the job first
        job_id = d.create_dispatch("r1", "", spec(tmp_path)).job_ids[0]
        job = await d.wait_for_job(job_id, SUCCESS)
        assert job.offered_to == [picky.id, willing.id]
        assert job.worker_id == willing.id

        await willing.aclose()
        await d.wait_for(lambda: willing.id not in d.workers)
        lonely = await d.wait_for_job(d.create_dispatch("r2", "", "").job_ids[0])
        assert lonely.status == FAILED
        assert lonely.offered_to == [picky.id]
        assert lonely.error == "no worker accepted the job"


def full_load() -> float:
    return 0.9


@bounded(40)
async def test_a_worker_above_the_load_threshold_reports_full_and_is_not_chosen(
    tmp_path: Path,
) -> None:
    async with cluster({"load_fnc": full_load}, {}) as (d, [busy, idle]):
        await d.wait_for(
            lambda: (
                d.workers[busy.id].status == agent.WorkerStatus.WS_FULL
                and d.workers[idle.id].status == agent.WorkerStatus.WS_AVAILABLE
            )
        )
        assert d.workers[busy.id].load == pytest.approx(0.9)
        for i in range(3):
            job = await d.wait_for_job(d.create_dispatch(f"r{i}", "", "").job_ids[0], SUCCESS)
            assert job.offered_to == [idle.id]


@bounded(40)
async def test_protocol_messages_in_order(tmp_path: Path) -> None:
    async with cluster({"agent_name": "seq"}) as (d, [server]):
        job_id = d.create_dispatch("seq-room", "seq", spec(tmp_path)).job_ids[0]
        await d.wait_for_job(job_id, SUCCESS)
        log = [
            (m.direction, m.kind, m.data)
            for m in d.messages_of(server.id)
            if m.kind not in ("ping", "pong")
        ]
    kinds = [(direction, kind) for direction, kind, _ in log]
    first_status = kinds.index(("recv", "update_worker"))
    job_flow = [k for k in kinds if k[1] != "update_worker"]
    assert kinds[:2] == [("recv", "register"), ("send", "register")]
    assert first_status == 2  # the first status report follows registration
    assert job_flow == [
        ("recv", "register"),
        ("send", "register"),
        ("send", "availability"),
        ("recv", "availability"),
        ("send", "assignment"),
        ("recv", "update_job"),
        ("recv", "update_job"),
    ]
    data = {kind: d for direction, kind, d in log if direction == "recv"}
    register = log[0][2]
    assert register["agentName"] == "seq"
    assert register["allowedPermissions"]["agent"] is True
    assert log[2][2] == {"status": "WS_AVAILABLE", "load": 0.1}
    offer = next(d for direction, kind, d in log if kind == "availability" and direction == "send")
    assert offer["job"]["id"] == job_id and offer["job"]["agentName"] == "seq"
    answer = data["availability"]
    assert answer["available"] is True
    assert answer["participantIdentity"] == f"agent-{job_id}"
    assert answer["participantAttributes"] == {"lk.agent.name": "seq"}
    assignment = next(d for _, kind, d in log if kind == "assignment")
    assert assignment["url"] == d.url and assignment["token"]
    updates = [d for direction, kind, d in log if kind == "update_job"]
    assert [u.get("status") for u in updates] == ["JS_RUNNING", "JS_SUCCESS"]


@bounded(40)
async def test_on_session_end_gets_a_json_report_with_the_session_history(
    tmp_path: Path,
) -> None:
    async with cluster({}) as (d, [server]):
        ended: list = []
        server.on("job_ended", ended.append)
        job_id = d.create_dispatch("talk", "", spec(tmp_path, "session")).job_ids[0]
        await d.wait_for_job(job_id, SUCCESS)
        report = await wait_for_file(tmp_path, job_id, "report")
    assert report["job_id"] == job_id and report["room"] == "talk"
    assert report["status"] == "success"
    assert report["shutdown_reason"] == "conversation done"
    texts = [
        (item["role"], item["content"])
        for item in report["history"]["items"]
        if item["type"] == "message"
    ]
    assert texts == [("user", ["Hi there"]), ("assistant", ["Hello from the agent!"])]
    kinds = [e["type"] for e in report["events"]]
    assert "conversation_item_added" in kinds and kinds[-1] == "close"
    assert report["session"]["close_reason"] == "job_shutdown"
    timings = report["timings"]
    assert timings["ended_at"] >= timings["started_at"] and timings["duration"] > 0
    # the server process gets the same report with the job's outcome
    [outcome] = [o for o in ended if o.job_id == job_id]
    assert outcome.status == "success" and outcome.report is not None
    assert outcome.report["history"] == report["history"]
