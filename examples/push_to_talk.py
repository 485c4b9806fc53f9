"""Push-to-talk: the agent listens only while the user holds the button.

The client calls three RPC methods on the agent: `start_turn` (button pressed: stop the agent,
forget any half turn, listen to the caller), `end_turn` (button released: stop listening and
answer what was said) and `cancel_turn`. Turn detection is manual, so only `end_turn` ends a
turn. The RoomIO is created by hand, which is how an entrypoint takes control of linking.

    voxline playground examples/push_to_talk.py
"""

from __future__ import annotations

from voxline import Agent, AgentServer, AgentSession, JobContext, cli, rtc
from voxline.room_io import RoomIO, RoomOptions


class Assistant(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You are a helpful assistant. Answer in one sentence.")


def make_session() -> AgentSession[None]:
    return AgentSession(
        stt="local/whisper-tiny.en",
        llm="local/qwen2.5-0.5b",
        tts="local/default",
        turn_detection="manual",
    )


async def start_push_to_talk(
    session: AgentSession[None], room: rtc.Room, agent: Agent | None = None
) -> RoomIO:
    """Bind `session` to `room` with audio off until the user presses the button."""
    room_io = RoomIO(session, room, RoomOptions())
    await room_io.start()
    await session.start(agent=agent or Assistant())
    session.input.set_audio_enabled(False)  # deaf until `start_turn`

    @room.local_participant.register_rpc_method("start_turn")
    async def start_turn(data: rtc.RpcInvocationData) -> str:
        session.interrupt()
        session.clear_user_turn()
        room_io.set_participant(data.caller_identity)  # several users: listen to this one
        session.input.set_audio_enabled(True)
        return "listening"

    @room.local_participant.register_rpc_method("end_turn")
    async def end_turn(data: rtc.RpcInvocationData) -> str:
        session.input.set_audio_enabled(False)
        transcript = await session.commit_user_turn(transcript_timeout=10.0)
        return transcript

    @room.local_participant.register_rpc_method("cancel_turn")
    async def cancel_turn(data: rtc.RpcInvocationData) -> str:
        session.input.set_audio_enabled(False)
        session.clear_user_turn()
        return "cancelled"

    return room_io


server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    await start_push_to_talk(make_session(), ctx.room.native)


if __name__ == "__main__":
    cli.run_app(server)
