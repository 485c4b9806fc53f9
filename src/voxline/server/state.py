"""What the dispatcher knows: registered workers, rooms, dispatches and jobs, plus the
log of protocol messages. Plain records, readable by tests and by the room server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from livekit.protocol import agent, models

from .._utils.aio import now

if TYPE_CHECKING:
    from aiohttp import web

TERMINAL_STATUSES = frozenset(
    {agent.JobStatus.JS_SUCCESS, agent.JobStatus.JS_FAILED, agent.JobStatus.JS_CANCELLED}
)


@dataclass
class WorkerRecord:
    id: str
    agent_name: str
    job_type: agent.JobType
    version: str
    namespace: str
    permissions: models.ParticipantPermission
    ws: web.WebSocketResponse | None = field(default=None, repr=False)
    status: agent.WorkerStatus = agent.WorkerStatus.WS_AVAILABLE
    load: float = 0.0
    job_count: int = 0
    draining: bool = False
    status_reports: int = 0
    connected: bool = True
    registered_at: float = field(default_factory=now)
    jobs: set[str] = field(default_factory=set)
    pending: dict[str, asyncio.Future[agent.AvailabilityResponse | None]] = field(
        default_factory=dict, repr=False
    )
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def available(self) -> bool:
        return (
            self.connected and not self.draining and self.status == agent.WorkerStatus.WS_AVAILABLE
        )

    @property
    def status_name(self) -> str:
        return agent.WorkerStatus.Name(self.status)


@dataclass
class JobRecord:
    id: str
    dispatch_id: str
    room: str
    room_sid: str
    agent_name: str
    metadata: str
    type: agent.JobType
    publisher: str = ""
    status: agent.JobStatus = agent.JobStatus.JS_PENDING
    worker_id: str = ""
    participant_identity: str = ""
    token: str = field(default="", repr=False)
    error: str = ""
    reason: agent.JobStateReason = agent.JobStateReason.JSR_UNSPECIFIED
    offered_to: list[str] = field(default_factory=list)
    history: list[tuple[str, float]] = field(default_factory=list)
    created_at: float = field(default_factory=now)
    assigned_at: float | None = None
    running_at: float | None = None
    ended_at: float | None = None
    only_worker: str = ""
    terminate_requested: bool = False

    def __post_init__(self) -> None:
        self.history.append((self.status_name, self.created_at))

    @property
    def status_name(self) -> str:
        return agent.JobStatus.Name(self.status)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def set_status(self, status: agent.JobStatus, error: str = "") -> None:
        if status == self.status and not error:
            return
        self.status = status
        if error:
            self.error = error
        at = now()
        self.history.append((self.status_name, at))
        if status == agent.JobStatus.JS_RUNNING and self.running_at is None:
            self.running_at = at
        if status in TERMINAL_STATUSES:
            self.ended_at = at

    def to_proto(self) -> agent.Job:
        job = agent.Job(
            id=self.id,
            dispatch_id=self.dispatch_id,
            type=self.type,
            room=models.Room(sid=self.room_sid, name=self.room),
            agent_name=self.agent_name,
            metadata=self.metadata,
            state=agent.JobState(
                status=self.status,
                error=self.error,
                participant_identity=self.participant_identity,
                worker_id=self.worker_id,
                reason=self.reason,
            ),
        )
        if self.publisher:
            job.participant.CopyFrom(models.ParticipantInfo(identity=self.publisher))
        return job


@dataclass
class DispatchRecord:
    id: str
    room: str
    agent_name: str
    metadata: str
    created_at: float = field(default_factory=now)
    job_ids: list[str] = field(default_factory=list)

    def to_proto(self, jobs: dict[str, JobRecord]) -> Any:
        from livekit.protocol import agent_dispatch

        return agent_dispatch.AgentDispatch(
            id=self.id,
            agent_name=self.agent_name,
            room=self.room,
            metadata=self.metadata,
            state=agent_dispatch.AgentDispatchState(
                jobs=[jobs[j].to_proto() for j in self.job_ids if j in jobs],
            ),
        )


@dataclass
class RoomRecord:
    name: str
    sid: str
    metadata: str = ""
    created_at: float = field(default_factory=now)
    dispatch_ids: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)

    def to_proto(self) -> models.Room:
        return models.Room(sid=self.sid, name=self.name, metadata=self.metadata)


@dataclass(frozen=True)
class ProtocolMessage:
    """One protocol message as the dispatcher saw it: `recv` from a worker or `send` to it."""

    direction: Literal["recv", "send"]
    worker_id: str
    kind: str
    data: dict[str, Any]
    at: float
