"""A real AgentServer dispatched by the RoomServer: its job's `ctx.connect()` joins the
embedded room with the assignment's voxline+ws URL and token."""

from __future__ import annotations

import asyncio

from livekit.protocol import agent

from server import room_agents
from server.rooms_support import room_server
from voxline import rtc
from worker.harness import bounded, make_server


@bounded(60)
async def test_a_dispatched_agent_joins_the_embedded_room_and_talks() -> None:
    async with room_server(departure_timeout=0.5) as server:
        worker = make_server(server.dispatcher, entrypoint=room_agents.greeter)
        await worker.start()
        try:
            await server.dispatcher.wait_for(
                lambda: any(w.status_reports for w in server.dispatcher.workers.values()),
                timeout=15,
            )
            user = rtc.Room()
            chats: list[tuple[str, str]] = []
            chatted = asyncio.Event()

            async def on_chat(reader: rtc.TextStreamReader, identity: str) -> None:
                chats.append((identity, await reader.read_all()))
                chatted.set()

            user.register_text_stream_handler("lk.chat", on_chat)
            await user.connect(server.room_url, server.token("demo", "alice"))
            [job] = server.dispatcher.jobs_in_room("demo")
            await server.dispatcher.wait_for_job(job.id, agent.JS_RUNNING, timeout=15)
            await asyncio.wait_for(chatted.wait(), 15)
            identity = job.participant_identity
            assert chats == [(identity, "hello alice")]
            agent_p = user.remote_participants[identity]
            assert agent_p.kind == rtc.ParticipantKind.AGENT
            assert agent_p.attributes.get("lk.agent.state") == "listening"
            await user.disconnect()
            # alone in the room, the agent does not keep it open: it closes, the job ends
            await server.dispatcher.wait_for_job(job.id, timeout=15)
            assert server.dispatcher.jobs[job.id].status == agent.JS_SUCCESS
            assert "demo" not in server.hub.rooms
        finally:
            await worker.aclose()
