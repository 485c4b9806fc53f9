"""Shared set-up of the worker tests: a real Dispatcher and real AgentServers talking
over WebSockets on 127.0.0.1 (ephemeral ports), each test bounded in time."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from voxline.server import Dispatcher
from voxline.worker import AgentServer, JobOutcome
from worker import agents

KEY = "devkey"
SECRET = "devsecret_devsecret_devsecret_32"

F = TypeVar("F", bound=Callable[..., Coroutine[Any, Any, None]])


def bounded(seconds: float) -> Callable[[F], F]:
    """Fail an async test that runs longer than `seconds` (real sockets, real time)."""

    def wrap(test: F) -> F:
        @functools.wraps(test)
        async def run(*args: Any, **kwargs: Any) -> None:
            await asyncio.wait_for(test(*args, **kwargs), seconds)

        return run  # type: ignore[return-value]

    return wrap


def low_load() -> float:
    return 0.1


def make_server(d: Dispatcher, **options: Any) -> AgentServer:
    """An AgentServer registered with `d`: one warm ASYNC process, the test agent."""
    agent_name = options.pop("agent_name", "")
    on_request = options.pop("on_request", None)
    on_session_end = options.pop("on_session_end", agents.write_report)
    entry = options.pop("entrypoint", agents.entrypoint)
    defaults: dict[str, Any] = {
        "ws_url": d.url,
        "api_key": KEY,
        "api_secret": SECRET,
        "num_idle_processes": 1,
        "port": 0,
        "load_fnc": low_load,
        "setup_fnc": agents.prewarm,
        "shutdown_process_timeout": 1.0,
    }
    server = AgentServer(**{**defaults, **options})
    server.rtc_session(agent_name=agent_name, on_request=on_request, on_session_end=on_session_end)(
        entry
    )
    return server


@asynccontextmanager
async def cluster(
    *server_options: dict[str, Any], **dispatcher_options: Any
) -> AsyncIterator[tuple[Dispatcher, list[AgentServer]]]:
    """A dispatcher and servers registered with it (in order); all closed at the end."""
    d = Dispatcher(KEY, SECRET, **dispatcher_options)
    await d.start()
    servers: list[AgentServer] = []
    try:
        for options in server_options:
            server = make_server(d, **options)
            servers.append(server)
            await server.start()
            await d.wait_for(
                lambda s=server: s.id in d.workers and d.workers[s.id].status_reports > 0,
                timeout=15,
            )
        yield d, servers
    finally:
        for server in servers:
            await server.aclose()
        await d.aclose()


def spec(out: Path, action: str = "return", **extra: Any) -> str:
    """Job metadata telling the test agent what to do and where to write."""
    return json.dumps({"out": str(out), "action": action, **extra})


def read(out: Path, job_id: str, what: str = "started") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / f"{job_id}.{what}.json").read_text())
    return data


async def wait_for_file(
    out: Path, job_id: str, what: str = "started", timeout: float = 10.0
) -> dict[str, Any]:
    path = out / f"{job_id}.{what}.json"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not path.exists():
        if loop.time() > deadline:
            raise asyncio.TimeoutError(f"{path} was never written")
        await asyncio.sleep(0.02)
    return read(out, job_id, what)


def outcomes(server: AgentServer) -> list[JobOutcome]:
    """Collect the server's job_ended events into a list."""
    found: list[JobOutcome] = []
    server.on("job_ended", found.append)
    return found


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise asyncio.TimeoutError("condition never held")
        await asyncio.sleep(0.02)
