"""Toggling input and output at run time, and choosing whom the agent listens to.

RPC methods the client (or another participant) can call on the agent:

    set_participant      payload: an identity (empty: the caller)  -> link to it
    unset_participant                                              -> listen to nobody
    toggle_input         payload: audio_on | audio_off
    toggle_output        payload: audio_on | audio_off | transcription_on | transcription_off

    voxline playground examples/toggle_io.py
"""

from __future__ import annotations

from voxline import Agent, AgentServer, AgentSession, JobContext, cli, rtc
from voxline.room_io import RoomIO, RoomOptions


def make_session() -> AgentSession[None]:
    return AgentSession(
        stt="local/whisper-tiny.en",
        llm="local/qwen2.5-0.5b",
        tts="local/default",
        turn_detection="local/smart-turn",
    )


async def start_toggle_io(
    session: AgentSession[None], room: rtc.Room, agent: Agent | None = None
) -> RoomIO:
    room_io = RoomIO(session, room, RoomOptions())
    await room_io.start()
    await session.start(agent=agent or Agent(instructions="You are a helpful assistant."))

    @room.local_participant.register_rpc_method("set_participant")
    async def set_participant(data: rtc.RpcInvocationData) -> str:
        identity = data.payload or data.caller_identity
        room_io.set_participant(identity)
        return identity

    @room.local_participant.register_rpc_method("unset_participant")
    async def unset_participant(data: rtc.RpcInvocationData) -> str:
        room_io.unset_participant()
        return ""

    @room.local_participant.register_rpc_method("toggle_input")
    async def toggle_input(data: rtc.RpcInvocationData) -> str:
        if data.payload not in ("audio_on", "audio_off"):
            raise rtc.RpcError(1500, f"unknown input toggle {data.payload!r}")
        session.input.set_audio_enabled(data.payload == "audio_on")
        return data.payload

    @room.local_participant.register_rpc_method("toggle_output")
    async def toggle_output(data: rtc.RpcInvocationData) -> str:
        toggles = {
            "audio_on": lambda: session.output.set_audio_enabled(True),
            "audio_off": lambda: session.output.set_audio_enabled(False),
            "transcription_on": lambda: session.output.set_transcription_enabled(True),
            "transcription_off": lambda: session.output.set_transcription_enabled(False),
        }
        toggle = toggles.get(data.payload)
        if toggle is None:
            raise rtc.RpcError(1500, f"unknown output toggle {data.payload!r}")
        toggle()
        return data.payload

    return room_io


server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    await start_toggle_io(make_session(), ctx.room.native)


if __name__ == "__main__":
    cli.run_app(server)
