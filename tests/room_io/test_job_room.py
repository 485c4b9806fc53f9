"""`ctx.connect()` gives a job a connected voxline room, and `session.start(room=ctx.room)`
binds the session to it."""

from __future__ import annotations

import asyncio

import pytest
from livekit.protocol import models

from room_io.helpers import ROOM, User, make_session, settle
from voxline import Agent, rtc
from voxline.testing.fakes import FakeActions
from voxline.worker import JobRoom, VoxlineRoomConnector


@pytest.mark.virtual_time
async def test_job_room_connects_through_the_connector_and_hosts_room_io() -> None:
    hub = rtc.MemoryHub()
    token = hub.token(ROOM, "agent-job", kind="agent")
    connector = VoxlineRoomConnector(hub.backend)
    connected = await connector.connect(f"memory://{ROOM}", token, auto_subscribe=True)
    job_room = JobRoom(models.Room(name=ROOM, sid="RM_x"), url=f"memory://{ROOM}", token=token)
    job_room._attach(connected)
    ended: list[bool] = []
    connected.on_disconnected(lambda: ended.append(True))
    assert isinstance(job_room.native, rtc.Room)
    assert job_room.local_participant.identity == "agent-job"
    assert job_room.local_participant.kind == rtc.ParticipantKind.AGENT

    waiting = asyncio.ensure_future(connected.wait_for_participant())
    user_room = hub.room()
    await user_room.connect(f"memory://{ROOM}", hub.token(ROOM, "alice"))
    user = User(user_room, "alice")
    await user.publish_mic()
    assert (await asyncio.wait_for(waiting, 1)).identity == "alice"

    session = make_session(FakeActions())
    await session.start(Agent(instructions="x"), room=job_room)
    await settle()
    assert session.room_io.room is job_room.native
    assert session.room_io.linked_participant.identity == "alice"
    await hub.delete_room(ROOM)
    await asyncio.sleep(0.1)
    assert ended == [True]  # the job hears that its room went away
    assert session.lifecycle == "closed"  # ROOM_DELETED closes the session
    await user.aclose()


@pytest.mark.virtual_time
async def test_connector_refuses_unknown_options() -> None:
    hub = rtc.MemoryHub()
    with pytest.raises(TypeError, match="encryption"):
        await VoxlineRoomConnector(hub.backend).connect("memory://r", "t", encryption=True)


@pytest.mark.virtual_time
async def test_start_with_the_job_room_connects_it_when_the_entrypoint_did_not() -> None:
    """Agent code written as `await session.start(agent, room=ctx.room)` with no
    `await ctx.connect()` first joins the room all the same."""
    from livekit.protocol import agent as agent_pb

    from voxline.worker import JobExecutorType
    from voxline.worker.job import JobContext, JobProcess, _job_ctx_var
    from voxline.worker.types import JobAcceptArguments, RunningJobInfo

    hub = rtc.MemoryHub()
    token = hub.token(ROOM, "agent-job", kind="agent")
    user_room = hub.room()
    await user_room.connect(f"memory://{ROOM}", hub.token(ROOM, "alice"))
    user = User(user_room, "alice")
    await user.publish_mic()
    job = agent_pb.Job(id="AJ_1", room=models.Room(name=ROOM, sid="RM_x"))
    ctx = JobContext(
        info=RunningJobInfo.create(
            job,
            accept_arguments=JobAcceptArguments(name="agent", identity="agent-job"),
            url=f"memory://{ROOM}",
            token=token,
            worker_id="W_1",
        ),
        proc=JobProcess(executor_type=JobExecutorType.ASYNC),
        room_connector=VoxlineRoomConnector(hub.backend),
    )
    assert not ctx.room.isconnected()
    reset = _job_ctx_var.set(ctx)
    try:
        session = make_session(FakeActions())
        await session.start(Agent(instructions="x"), room=ctx.room)
    finally:
        _job_ctx_var.reset(reset)
    await settle()
    assert ctx.room.isconnected()
    assert session.room_io.linked_participant.identity == "alice"
    await session.aclose()
    await user.aclose()
