"""The Dispatcher, driven one protocol message at a time by scripted workers."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
import pytest
from google.protobuf.json_format import MessageToDict
from livekit import api
from livekit.protocol import agent

from server.scripted import KEY, SECRET, ScriptedWorker, settle, worker_jwt
from voxline.server import Dispatcher

F = TypeVar("F", bound=Callable[..., Coroutine[Any, Any, None]])


def bounded(seconds: float) -> Callable[[F], F]:
    def wrap(test: F) -> F:
        @functools.wraps(test)
        async def run(*args: Any, **kwargs: Any) -> None:
            await asyncio.wait_for(test(*args, **kwargs), seconds)

        return run  # type: ignore[return-value]

    return wrap


async def reported(d: Dispatcher, count: int) -> None:
    """Wait until `count` workers have sent their first status (their load is known)."""
    await d.wait_for(lambda: sum(1 for w in d.workers.values() if w.status_reports) == count)


async def started(**options: Any) -> Dispatcher:
    d = Dispatcher(KEY, SECRET, **options)
    await d.start()
    return d


@bounded(20)
async def test_the_livekit_worker_transcript_of_appendix_d() -> None:
    """What the real livekit-agents 1.8.9 worker sent to a protobuf-only fake dispatcher
    (transport.md appendix D), replayed against ours: each answer is what it expects."""
    d = await started()
    try:
        async with ScriptedWorker(d.url) as w:
            # <- register {version:'1.8.9', agentName:'my-agent', allowedPermissions:{...}}
            await w.send(
                register=agent.RegisterWorkerRequest(
                    type=agent.JT_ROOM,
                    agent_name="my-agent",
                    version="1.8.9",
                    allowed_permissions={  # type: ignore[arg-type]
                        "can_publish": True,
                        "can_subscribe": True,
                        "can_publish_data": True,
                        "can_update_metadata": True,
                        "agent": True,
                    },
                )
            )
            # -> register {worker_id, server_info}: the first message, as the worker requires
            reply = await w.recv()
            assert reply.WhichOneof("message") == "register"
            worker_id = reply.register.worker_id
            assert worker_id.startswith("AW_")
            assert reply.register.server_info.protocol >= 1
            # <- update_worker {status: WS_AVAILABLE, load: 0.1}
            await w.status(agent.WS_AVAILABLE, 0.1)
            await d.wait_for(lambda: d.workers[worker_id].status_reports == 1)

            dispatch = d.create_dispatch("demo", "my-agent", '{"hello":1}')
            # -> availability {job:{id, type:JT_ROOM, room:{name:'demo'}, agent_name, metadata}}
            offer = await w.recv()
            assert offer.WhichOneof("message") == "availability"
            job = offer.availability.job
            assert job.id == dispatch.job_ids[0] and job.dispatch_id == dispatch.id
            assert job.type == agent.JT_ROOM and job.room.name == "demo" and job.room.sid
            assert job.agent_name == "my-agent" and job.metadata == '{"hello":1}'
            # <- availability {jobId, available, participantIdentity, participantAttributes}
            await w.answer(job.id, name="my-agent")
            # -> assignment {job, url, token}
            assignment = await w.recv()
            assert assignment.WhichOneof("message") == "assignment"
            assert assignment.assignment.job.id == job.id
            assert assignment.assignment.url == d.url
            claims = api.TokenVerifier(KEY, SECRET).verify(assignment.assignment.token)
            assert claims.identity == f"agent-{job.id}" and claims.kind == "agent"
            assert claims.video is not None and claims.video.room == "demo"
            assert claims.video.room_join and claims.video.agent
            assert claims.attributes == {"lk.agent.name": "my-agent"}
            # <- update_job {jobId, status: JS_RUNNING}, then JS_SUCCESS
            await w.job_status(job.id, agent.JS_RUNNING)
            await d.wait_for_job(job.id, agent.JS_RUNNING)
            await w.job_status(job.id, agent.JS_SUCCESS)
            assert (await d.wait_for_job(job.id)).status == agent.JS_SUCCESS
            # <- update_worker {status: WS_FULL} (SIGINT: draining)
            await w.status(agent.WS_FULL, 0.0)
            await d.wait_for(lambda: d.workers[worker_id].status == agent.WS_FULL)
        await d.wait_for(lambda: worker_id not in d.workers)
        kinds = [(m.direction, m.kind) for m in d.messages]
        assert kinds == [
            ("recv", "register"),
            ("send", "register"),
            ("recv", "update_worker"),
            ("send", "availability"),
            ("recv", "availability"),
            ("send", "assignment"),
            ("recv", "update_job"),
            ("recv", "update_job"),
            ("recv", "update_worker"),
        ]
    finally:
        await d.aclose()


@bounded(20)
async def test_workers_must_present_a_valid_agent_token() -> None:
    d = await started()
    try:
        async with aiohttp.ClientSession() as http:
            cases = {
                None: 401,
                worker_jwt(secret="not-the-secret-not-the-secret-xx"): 401,
                worker_jwt(agent_grant=False): 403,
            }
            for token, status in cases.items():
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                    await http.ws_connect(d.url + "/agent", headers=headers)
                assert err.value.status == status
        assert d.workers == {}
    finally:
        await d.aclose()


@bounded(20)
async def test_a_first_message_other_than_register_closes_the_connection() -> None:
    d = await started()
    try:
        async with ScriptedWorker(d.url) as w:
            await w.status(agent.WS_AVAILABLE, 0.0)
            assert w.ws is not None
            msg = await w.ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert d.workers == {}
    finally:
        await d.aclose()


@bounded(20)
async def test_ping_gets_a_pong() -> None:
    d = await started()
    try:
        async with ScriptedWorker(d.url) as w:
            await w.register()
            await w.send(ping=agent.WorkerPing(timestamp=1234))
            pong = await w.recv()
            assert pong.WhichOneof("message") == "pong"
            assert pong.pong.last_timestamp == 1234 and pong.pong.timestamp > 1234
    finally:
        await d.aclose()


@bounded(20)
async def test_offers_go_to_the_least_loaded_and_skip_silent_workers() -> None:
    d = await started(availability_timeout=0.3)
    try:
        async with ScriptedWorker(d.url) as busy, ScriptedWorker(d.url) as calm:
            busy_id = await busy.register()
            calm_id = await calm.register()
            await busy.status(agent.WS_AVAILABLE, 0.5)
            await calm.status(agent.WS_AVAILABLE, 0.2)
            await d.wait_for(
                lambda: (
                    d.workers[busy_id].status_reports == 2
                    and d.workers[calm_id].status_reports == 2
                )
            )
            job_id = d.create_room("auto").job_ids[0]  # unnamed workers: automatic dispatch
            offer = await calm.recv()
            assert offer.availability.job.id == job_id
            # calm never answers: after the timeout the job goes to the next worker
            offer = await busy.recv()
            assert offer.availability.job.id == job_id
            await busy.answer(job_id)
            assert (await busy.recv()).WhichOneof("message") == "assignment"
            job = d.jobs[job_id]
            assert job.offered_to == [calm_id, busy_id] and job.worker_id == busy_id
    finally:
        await d.aclose()


@bounded(20)
async def test_a_terminating_rejection_fails_the_job_at_once() -> None:
    d = await started()
    try:
        async with ScriptedWorker(d.url) as a, ScriptedWorker(d.url) as b:
            await a.register("x")
            await b.register("x")
            await reported(d, 2)
            job_id = d.create_dispatch("r", "x").job_ids[0]
            offer = await a.recv()  # equal load: the first registered is offered first
            await a.answer(offer.availability.job.id, available=False, terminate=True)
            job = await d.wait_for_job(job_id)
            assert job.status == agent.JS_FAILED and job.error.startswith("rejected by worker")
            assert len(job.offered_to) == 1
    finally:
        await d.aclose()


@bounded(20)
async def test_termination_and_room_deletion() -> None:
    d = await started(dispatch_timeout=5.0)
    try:
        unassigned = d.create_dispatch("empty", "nobody").job_ids[0]
        assert d.terminate_job(unassigned)
        assert (await d.wait_for_job(unassigned)).status == agent.JS_CANCELLED

        async with ScriptedWorker(d.url) as w:
            await w.register("x")
            job_id = d.create_dispatch("r", "x").job_ids[0]
            await w.recv()
            await w.answer(job_id)
            await w.recv()
            await w.job_status(job_id, agent.JS_RUNNING)
            await d.wait_for_job(job_id, agent.JS_RUNNING)
            assert d.delete_room("r")
            termination = await w.recv()
            assert termination.WhichOneof("message") == "termination"
            assert termination.termination.job_id == job_id
            await w.job_status(job_id, agent.JS_SUCCESS)
            assert (await d.wait_for_job(job_id)).status == agent.JS_SUCCESS
            assert "r" not in d.rooms
    finally:
        await d.aclose()


@bounded(20)
async def test_a_dead_worker_fails_its_jobs_and_they_are_redispatched() -> None:
    d = await started(redispatch_on_worker_death=True)
    try:
        async with ScriptedWorker(d.url) as survivor:
            await survivor.register("x")
            async with ScriptedWorker(d.url) as doomed:
                await doomed.register("x")
                await doomed.status(agent.WS_AVAILABLE, 0.0)  # least loaded
                await d.wait_for(lambda: d.workers[doomed.worker_id].status_reports == 2)
                dispatch = d.create_dispatch("r", "x")
                job_id = dispatch.job_ids[0]
                await doomed.recv()
                await doomed.answer(job_id)
                await doomed.recv()
                await doomed.job_status(job_id, agent.JS_RUNNING)
                await d.wait_for_job(job_id, agent.JS_RUNNING)
            failed = await d.wait_for_job(job_id)
            assert failed.status == agent.JS_FAILED and failed.error == "worker disconnected"
            offer = await survivor.recv()
            retry = offer.availability.job
            assert retry.id != job_id and retry.dispatch_id == dispatch.id
            assert dispatch.job_ids == [job_id, retry.id]
    finally:
        await d.aclose()


@bounded(20)
async def test_publisher_workers_get_one_job_per_publisher() -> None:
    d = await started()
    try:
        async with ScriptedWorker(d.url) as w:
            await w.register("watcher", agent.JT_PUBLISHER)
            [job] = d.add_publisher("r", "alice")
            offer = await w.recv()
            assert offer.availability.job.id == job.id
            assert offer.availability.job.type == agent.JT_PUBLISHER
            assert offer.availability.job.participant.identity == "alice"
    finally:
        await d.aclose()


@bounded(20)
async def test_simulate_job_dispatches_to_the_asking_worker() -> None:
    d = await started()
    try:
        async with ScriptedWorker(d.url) as other, ScriptedWorker(d.url) as w:
            await other.register("x")
            await w.register("x")
            await reported(d, 2)
            await w.send(
                simulate_job=agent.SimulateJobRequest(type=agent.JT_ROOM, room={"name": "sim"})  # type: ignore[arg-type]
            )
            offer = await w.recv()
            assert offer.availability.job.room.name == "sim"
            assert d.jobs[offer.availability.job.id].offered_to == [w.worker_id]
    finally:
        await d.aclose()


@bounded(20)
async def test_the_server_api_works_with_livekit_api() -> None:
    d = await started(dispatch_timeout=0.2)
    lk = api.LiveKitAPI(d.url.replace("ws", "http"), KEY, SECRET, failover=False)
    try:
        room = await lk.room.create_room(
            api.CreateRoomRequest(
                name="made", metadata="m", agents=[api.RoomAgentDispatch(agent_name="a")]
            )
        )
        assert room.name == "made" and room.sid == d.rooms["made"].sid
        listed = await lk.room.list_rooms(api.ListRoomsRequest(names=["made"]))
        assert [r.name for r in listed.rooms] == ["made"]
        dispatch = await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name="b", room="made", metadata='{"x": 1}')
        )
        assert dispatch.id in d.dispatches and dispatch.agent_name == "b"
        listed_dispatches = await lk.agent_dispatch.list_dispatch("made")
        assert sorted(x.agent_name for x in listed_dispatches) == ["a", "b"]
        deleted = await lk.agent_dispatch.delete_dispatch(dispatch.id, "made")
        assert deleted.id == dispatch.id and dispatch.id not in d.dispatches
        await lk.room.delete_room(api.DeleteRoomRequest(room="made"))
        assert "made" not in d.rooms
        with pytest.raises(api.TwirpError) as err:
            await lk.room.delete_room(api.DeleteRoomRequest(room="made"))
        assert err.value.code == api.TwirpErrorCode.NOT_FOUND
        # JSON bodies work too, and grants are checked
        async with aiohttp.ClientSession() as http:
            url = d.url.replace("ws", "http") + "/twirp/livekit.RoomService/ListRooms"
            token = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_list=True))
            headers = {"Authorization": f"Bearer {token.to_jwt()}"}
            async with http.post(url, json={}, headers=headers) as resp:
                assert resp.status == 200 and json.loads(await resp.text()) == {}
            url = url.replace("ListRooms", "DeleteRoom")
            async with http.post(url, json={"room": "x"}, headers=headers) as resp:
                assert resp.status == 403
                assert (await resp.json())["code"] == "permission_denied"
    finally:
        await lk.aclose()
        await d.aclose()


@bounded(20)
async def test_messages_are_recorded_as_protocol_dicts() -> None:
    d = await started()
    try:
        async with ScriptedWorker(d.url) as w:
            await w.register("rec")
            await settle()
        first = d.messages[0]
        assert (first.direction, first.kind) == ("recv", "register")
        assert first.data == MessageToDict(
            agent.RegisterWorkerRequest(
                agent_name="rec",
                version="1.8.9",
                allowed_permissions={  # type: ignore[arg-type]
                    "can_publish": True,
                    "can_subscribe": True,
                    "can_publish_data": True,
                    "can_update_metadata": True,
                    "agent": True,
                },
            )
        )
    finally:
        await d.aclose()
