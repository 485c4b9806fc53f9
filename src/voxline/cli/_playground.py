"""`voxline playground AGENT_FILE`: the embedded room server, the agent, a room, and a URL.

Everything runs on 127.0.0.1. The agent runs exactly as in development (`dev --no-reload`, in
a child process) against the embedded server, which is its LiveKit server here: it registers
over the worker protocol and is dispatched into the room like in production. The printed URL
opens the playground page with a token for that room in its fragment (never sent to a server
log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._utils.aio import short_id

if TYPE_CHECKING:
    from ..server import RoomServer

logger = logging.getLogger("voxline.cli")

REGISTER_TIMEOUT = 120.0
"""How long the agent may take to start and register (it may load models first)."""
STOP_TIMEOUT = 10.0
PAGE_PATH = "/playground/playground.html"


@dataclass
class PlaygroundOptions:
    port: int
    room: str | None
    identity: str
    log_level: str


class PlaygroundError(RuntimeError):
    """The playground could not start (port taken, agent failed to register, ...)."""


def worker_command(orig_argv: Sequence[str], log_level: str) -> list[str]:
    """The command line that runs the same agent file in `dev --no-reload` mode.

    It is this process's own command with `playground` and its options replaced, so it works
    whichever way the playground was started (`python agent.py playground`,
    `voxline playground agent.py`, with interpreter options)."""
    args = list(orig_argv[1:])
    if "playground" not in args:
        raise PlaygroundError(f"cannot find the playground command in {list(orig_argv)!r}")
    index = args.index("playground")
    agent_file = [a for a in args[index + 1 :] if a.endswith(".py")][:1]
    return [
        sys.executable,
        *args[:index],
        "dev",
        *agent_file,
        "--no-reload",
        "--log-level",
        log_level,
    ]


async def run_playground(
    options: PlaygroundOptions,
    *,
    announce: Callable[[str], None],
    command: Sequence[str] | None = None,
) -> None:
    """Serve until cancelled (Ctrl+C), terminated (SIGTERM) or until the agent process exits.
    SIGTERM cancels too, so the agent process (in its own session, which a signal to this
    one does not reach) is always stopped, never left behind."""
    from ..server import RoomServer

    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None and os.name == "posix":
        loop.add_signal_handler(signal.SIGTERM, task.cancel)

    api_key = "playground"
    api_secret = secrets.token_urlsafe(32)  # fresh per run: old page URLs stop working
    server = RoomServer(api_key, api_secret)
    try:
        await server.start("127.0.0.1", options.port)
    except OSError as e:
        raise PlaygroundError(f"cannot serve on 127.0.0.1:{options.port}: {e}") from e
    worker: asyncio.subprocess.Process | None = None
    try:
        env = {
            **os.environ,
            "LIVEKIT_URL": server.ws_url,
            "LIVEKIT_API_KEY": api_key,
            "LIVEKIT_API_SECRET": api_secret,
        }
        argv = list(command or worker_command(sys.orig_argv, options.log_level))
        worker = await asyncio.create_subprocess_exec(
            *argv, env=env, start_new_session=os.name == "posix"
        )
        agent_name = await _registered_agent(server, worker)
        room = options.room or short_id("playground")
        server.create_room(room, agents=[(agent_name, "")] if agent_name else ())
        token = server.token(room, options.identity, name="You")
        announce(f"{server.http_url}{PAGE_PATH}#token={token}")
        await worker.wait()
        raise PlaygroundError(f"the agent process exited (code {worker.returncode})")
    finally:
        if worker is not None:
            await _stop(worker)
        await server.aclose()
        if task is not None and os.name == "posix":
            loop.remove_signal_handler(signal.SIGTERM)


async def _registered_agent(server: RoomServer, worker: asyncio.subprocess.Process) -> str:
    """Wait until the agent's worker has registered; its agent name (may be empty)."""
    dispatcher = server.dispatcher
    exited = asyncio.ensure_future(worker.wait())
    registered = asyncio.ensure_future(
        dispatcher.wait_for(
            lambda: any(w.connected for w in dispatcher.workers.values()), REGISTER_TIMEOUT
        )
    )
    try:
        done, _ = await asyncio.wait({exited, registered}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        exited.cancel()
        registered.cancel()
    if registered in done and registered.exception() is None:
        worker_record = next(w for w in dispatcher.workers.values() if w.connected)
        return worker_record.agent_name
    if exited in done:
        raise PlaygroundError(
            f"the agent process exited (code {worker.returncode}) before registering"
        )
    raise PlaygroundError(f"the agent did not register within {REGISTER_TIMEOUT:.0f} s")


async def _stop(worker: asyncio.subprocess.Process) -> None:
    """SIGINT, as Ctrl+C would (the agent closes its sessions and exits; SIGTERM would drain
    for up to `drain_timeout`), then SIGKILL if it is still there after STOP_TIMEOUT."""
    if worker.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        _signal(worker, signal.SIGINT)
    try:
        await asyncio.wait_for(asyncio.shield(worker.wait()), STOP_TIMEOUT)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            _signal(worker, signal.SIGKILL)
        await worker.wait()


def _signal(worker: asyncio.subprocess.Process, sig: int) -> None:
    # The worker runs in its own session with its job processes: signal the whole group.
    if os.name == "posix":
        os.killpg(worker.pid, sig)
    else:
        worker.send_signal(sig)
