"""Entrypoints and hooks the worker tests run in job processes.

They live at module level because ASYNC and PROCESS hosts receive them by pickling. A
job's metadata (JSON) says what the entrypoint does and where it writes what it saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from voxline import Agent, AgentSession
from voxline.testing import FakeActions, FakeLLM
from voxline.worker import JobContext, JobProcess, current_job_context

USER_SAYS = "Hi there"
AGENT_SAYS = "Hello from the agent!"


def prewarm(proc: JobProcess) -> None:
    proc.userdata["prewarmed_by"] = os.getpid()
    proc.userdata["model"] = "loaded once"


def _spec(ctx: JobContext) -> dict[str, Any]:
    return json.loads(ctx.job.metadata or "{}")


def _write(ctx: JobContext, suffix: str, data: dict[str, Any]) -> None:
    out = _spec(ctx).get("out")
    if out:
        path = Path(out) / f"{ctx.job.id}.{suffix}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)


async def entrypoint(ctx: JobContext) -> None:
    spec = _spec(ctx)
    _write(
        ctx,
        "started",
        {
            "pid": os.getpid(),
            "monotonic": asyncio.get_running_loop().time(),
            "userdata": ctx.proc.userdata,
            "room": ctx.room.name,
            "identity": ctx.local_participant_identity,
            "token": ctx.room.token,
            "url": ctx.room.url,
            "metadata": ctx.job.metadata,
            "current_is_ctx": current_job_context() is ctx,
        },
    )
    action = spec.get("action", "return")
    if action == "return":
        return
    if action == "sleep":
        await asyncio.sleep(float(spec.get("seconds", 0.5)))
    elif action == "raise":
        raise ValueError("the entrypoint broke on purpose")
    elif action == "hang":
        await asyncio.Event().wait()
    elif action == "allocate":
        ballast = bytearray(int(spec["mb"]) * 1024 * 1024)
        ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: resident
        await asyncio.Event().wait()
    elif action == "crash":
        await asyncio.sleep(float(spec.get("seconds", 0.2)))
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "session":
        await _talk(ctx)
    elif action == "delete_room":
        await ctx.delete_room()
        await asyncio.Event().wait()  # the server ends the job
    elif action == "connect":
        await ctx.connect()
    elif action == "wait_participant":
        participant = await ctx.wait_for_participant()
        _write(ctx, "participant", {"identity": participant.identity})
        await asyncio.Event().wait()  # until the room disconnects


async def _talk(ctx: JobContext) -> None:
    actions = FakeActions()
    actions.add_llm(AGENT_SAYS, input=USER_SAYS)
    session: AgentSession[None] = AgentSession(llm=FakeLLM(actions))
    ctx.register_session(session)  # AgentSession.start does this once wired to the worker
    await session.start(Agent(instructions="Be brief."))
    await session.generate_reply(user_input=USER_SAYS)
    await asyncio.sleep(float(_spec(ctx).get("hold", 0.0)))
    ctx.shutdown("conversation done")


async def write_report(ctx: JobContext) -> None:
    _write(ctx, "report", ctx.make_session_report())
