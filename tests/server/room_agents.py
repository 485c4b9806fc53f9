"""An entrypoint the end-to-end room tests dispatch (module level: job hosts import it)."""

from __future__ import annotations

import asyncio

from voxline.worker import JobContext


async def greeter(ctx: JobContext) -> None:
    """Join the embedded room, greet the first person on `lk.chat`, show a state, and stay
    until they leave."""
    await ctx.connect()
    person = await ctx.wait_for_participant()
    room = ctx.room
    await room.local_participant.set_attributes({"lk.agent.state": "listening"})
    await room.local_participant.send_text(f"hello {person.identity}", topic="lk.chat")
    gone = asyncio.Event()
    room.on("participant_disconnected", lambda p: gone.set() if p is person else None)
    await asyncio.wait_for(gone.wait(), 20)
