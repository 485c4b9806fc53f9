"""voxline.worker: run agents as jobs dispatched over LiveKit's agent worker protocol.

    server = AgentServer()

    @server.rtc_session(agent_name="my-agent")
    async def entrypoint(ctx: JobContext) -> None:
        session = AgentSession(llm=...)
        await session.start(MyAgent())

    if __name__ == "__main__":  # job processes import this module: guard the start
        voxline.cli.run_app(server)  # or: asyncio.run(server.run())

Names are imported on first use: `current_job_context()` (which AgentSession.start
consults) must stay cheap, and the protocol's dependencies load only with the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import (
        JobContext,
        JobProcess,
        JobRequest,
        current_job_context,
        get_job_context,
    )
    from .pool import HostStartError
    from .protocol import ConnectionFailedError
    from .report import SessionRecorder
    from .room import (
        ConnectedRoom,
        JobRoom,
        LiveKitRoomConnector,
        RoomBackendUnavailableError,
        RoomConnector,
        VoxlineRoomConnector,
        set_room_connector,
    )
    from .server import AgentServer, JobOutcome
    from .types import (
        ATTRIBUTE_AGENT_NAME,
        JobAcceptArguments,
        JobExecutorType,
        RunningJobInfo,
        ServerType,
        WorkerPermissions,
        WorkerType,
    )

_EXPORTS = {
    "AgentServer": "server",
    "JobOutcome": "server",
    "JobContext": "job",
    "JobProcess": "job",
    "JobRequest": "job",
    "current_job_context": "job",
    "get_job_context": "job",
    "HostStartError": "pool",
    "ConnectionFailedError": "protocol",
    "SessionRecorder": "report",
    "ConnectedRoom": "room",
    "JobRoom": "room",
    "LiveKitRoomConnector": "room",
    "RoomBackendUnavailableError": "room",
    "RoomConnector": "room",
    "VoxlineRoomConnector": "room",
    "set_room_connector": "room",
    "ATTRIBUTE_AGENT_NAME": "types",
    "JobAcceptArguments": "types",
    "JobExecutorType": "types",
    "RunningJobInfo": "types",
    "ServerType": "types",
    "WorkerPermissions": "types",
    "WorkerType": "types",
}

__all__ = [
    "ATTRIBUTE_AGENT_NAME",
    "AgentServer",
    "ConnectedRoom",
    "ConnectionFailedError",
    "HostStartError",
    "JobAcceptArguments",
    "JobContext",
    "JobExecutorType",
    "JobOutcome",
    "JobProcess",
    "JobRequest",
    "JobRoom",
    "LiveKitRoomConnector",
    "RoomBackendUnavailableError",
    "RoomConnector",
    "RunningJobInfo",
    "ServerType",
    "SessionRecorder",
    "VoxlineRoomConnector",
    "WorkerPermissions",
    "WorkerType",
    "current_job_context",
    "get_job_context",
    "set_room_connector",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'voxline.worker' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
