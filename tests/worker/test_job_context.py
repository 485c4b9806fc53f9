"""JobContext pieces that need no dispatcher: room backends, requests, reports."""

from __future__ import annotations

import asyncio
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from livekit.protocol import agent, models

from voxline.rtc import ConnectError
from voxline.voice.events import CloseReason, ErrorEvent
from voxline.worker import (
    JobAcceptArguments,
    JobContext,
    JobExecutorType,
    JobRequest,
    current_job_context,
    room,
)
from voxline.worker.report import jsonable
from worker import fake_rtc
from worker.harness import bounded, cluster, outcomes, spec, until, wait_for_file

SUCCESS = agent.JobStatus.JS_SUCCESS
RUNNING = agent.JobStatus.JS_RUNNING


@bounded(40)
async def test_wait_for_participant_on_a_livekit_style_room(tmp_path: Path) -> None:
    fake_rtc.Room.rooms.clear()
    options = {"job_executor_type": JobExecutorType.THREAD, "room_connector": fake_rtc.connector}
    async with cluster(options) as (d, [server]):
        ended = outcomes(server)
        job_id = d.create_dispatch("call", "", spec(tmp_path, "wait_participant")).job_ids[0]
        await d.wait_for_job(job_id, RUNNING)
        await until(lambda: bool(fake_rtc.Room.rooms) and fake_rtc.Room.rooms[0].isconnected())
        [rtc_room] = fake_rtc.Room.rooms
        assert rtc_room.token == d.jobs[job_id].token and rtc_room.url == d.url
        rtc_room.join("agent-other", fake_rtc.ParticipantKind.PARTICIPANT_KIND_AGENT)
        rtc_room.join("caller")
        seen = await wait_for_file(tmp_path, job_id, "participant")
        assert seen == {"identity": "caller"}  # another agent is not who it waits for
        # the room going away ends the job
        rtc_room.server_disconnect()
        assert (await d.wait_for_job(job_id)).status == SUCCESS
        await until(lambda: len(ended) == 1)
        assert ended[0].report is not None
        assert ended[0].report["shutdown_reason"] == "room disconnected"


async def test_wait_for_participant_returns_one_already_there() -> None:
    connected = await fake_rtc.connector().connect("ws://x", "t")
    rtc_room = connected.native
    rtc_room._join("early", fake_rtc.ParticipantKind.PARTICIPANT_KIND_SIP)
    found = await asyncio.wait_for(connected.wait_for_participant(identity="early"), 1)
    assert found.identity == "early"
    waiting = asyncio.ensure_future(connected.wait_for_participant(identity="late"))
    await asyncio.sleep(0)
    rtc_room._drop("gone")
    with pytest.raises(RuntimeError, match="disconnected before the participant joined"):
        await asyncio.wait_for(waiting, 1)


async def test_connect_without_the_livekit_sdk_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from voxline.rtc import _backend

    real = importlib.import_module

    def no_livekit(name: str, package: str | None = None) -> Any:
        if name == "voxline.rtc.livekit":
            raise ImportError("No module named 'livekit.rtc'")
        return real(name, package)

    monkeypatch.setattr(_backend.importlib, "import_module", no_livekit)
    monkeypatch.setattr(room, "_default_factory", None)
    connector = room.default_room_connector()
    assert isinstance(connector, room.VoxlineRoomConnector)
    with pytest.raises(ConnectError, match=r"pip install 'voxline\[livekit\]'"):
        await connector.connect("wss://example.livekit.cloud", "token")
    monkeypatch.setattr(room, "_default_factory", fake_rtc.connector)
    assert isinstance(room.default_room_connector(), room.LiveKitRoomConnector)


def test_the_room_is_described_before_it_connects() -> None:
    job_room = room.JobRoom(models.Room(name="r", sid="RM_1"), url="ws://u", token="t")
    assert (job_room.name, job_room.sid, job_room.url, job_room.token) == (
        "r",
        "RM_1",
        "ws://u",
        "t",
    )
    assert not job_room.isconnected()
    with pytest.raises(AttributeError, match=r"await ctx.connect\(\)"):
        _ = job_room.local_participant


async def test_a_job_request_is_answered_once() -> None:
    answers: list[Any] = []

    async def accepted(args: JobAcceptArguments) -> None:
        answers.append(args)

    async def rejected(terminate: bool) -> None:
        answers.append(terminate)

    job = agent.Job(id="AJ_1", room=models.Room(name="r"), agent_name="a")
    request = JobRequest(job=job, on_accept=accepted, on_reject=rejected)
    assert (request.id, request.room.name, request.agent_name, request.publisher) == (
        "AJ_1",
        "r",
        "a",
        None,
    )
    await request.accept(attributes={"k": "v"})
    assert answers == [JobAcceptArguments(name="", identity="agent-AJ_1", attributes={"k": "v"})]
    with pytest.raises(RuntimeError, match="already answered"):
        await request.reject()


def test_no_job_outside_an_entrypoint() -> None:
    assert current_job_context() is None


def test_reports_turn_any_event_into_json() -> None:
    event = ErrorEvent(error=ValueError("boom"), source="llm")
    data = jsonable(event)
    json.dumps(data)
    assert data["error"] == {"type": "ValueError", "message": "boom"}
    assert jsonable(CloseReason.ERROR) == "error"
    assert jsonable({"x": float("nan"), "b": b"abc", 1: (1, 2)}) == {
        "x": None,
        "b": "<3 bytes>",
        "1": [1, 2],
    }


@bounded(40)
async def test_sessions_started_in_a_job_register_through_the_context_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contract with AgentSession.start: a session started while a job is current
    registers itself, once, and the job's report holds its history."""
    from voxline import Agent, AgentSession
    from voxline.testing import FakeActions, FakeLLM

    original_start = AgentSession.start

    async def start_registering(self: AgentSession[Any], *args: Any, **kwargs: Any) -> Any:
        ctx = current_job_context()
        if ctx is not None:
            ctx.register_session(self)
        return await original_start(self, *args, **kwargs)

    monkeypatch.setattr(AgentSession, "start", start_registering)

    async def entry(ctx: JobContext) -> None:  # no explicit register_session
        actions = FakeActions()
        actions.add_llm("Pong.", input="Ping?")
        session: AgentSession[None] = AgentSession(llm=FakeLLM(actions))
        await session.start(Agent(instructions="Answer."))
        ctx.register_session(session)  # a second registration changes nothing
        await session.generate_reply(user_input="Ping?")
        await session.aclose()  # the entrypoint returned and its session closed: job done

    options = {"job_executor_type": JobExecutorType.THREAD, "entrypoint": entry}
    async with cluster(options) as (d, [server]):
        ended = outcomes(server)
        job_id = d.create_dispatch("ctxvar", "", "").job_ids[0]
        assert (await d.wait_for_job(job_id)).status == SUCCESS
        await until(lambda: len(ended) == 1)
    report = ended[0].report
    assert report is not None and report["other_sessions"] == []
    assert report["shutdown_reason"] == "entrypoint finished"
    messages = [i["content"] for i in report["history"]["items"] if i["type"] == "message"]
    assert messages == [["Ping?"], ["Pong."]]
    assert report["events"][0]["type"] == "agent_state_changed"  # from start() on
    assert report["session"]["close_reason"] == "user_initiated"


def test_registering_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from voxline.worker import AgentServer

    monkeypatch.delenv("LIVEKIT_API_KEY", raising=False)
    monkeypatch.delenv("LIVEKIT_API_SECRET", raising=False)
    server = AgentServer(ws_url="ws://127.0.0.1:1", api_key="", api_secret="", port=0)
    server.rtc_session()(fake_rtc_entry)
    with pytest.raises(ValueError, match="api_key and api_secret are required"):
        asyncio.run(asyncio.wait_for(server.start(), 20))


async def fake_rtc_entry(ctx: JobContext) -> None:
    pass
