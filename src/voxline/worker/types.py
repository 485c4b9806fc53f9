"""Option and record types shared by the server process and the job hosts.

Everything here crosses a process boundary (pickled to a job process), so it holds plain
data only: livekit-protocol messages do not pickle, a job travels as its serialized bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livekit.protocol import agent

ATTRIBUTE_AGENT_NAME = "lk.agent.name"
"""Participant attribute carrying the agent's name, as LiveKit workers set it."""


class JobExecutorType(str, enum.Enum):
    """Where a job's entrypoint runs.

    ASYNC: jobs are asyncio tasks in a pool of worker processes (one per core by default),
    each hosting many jobs: cheap sessions, and a crash costs only that process's jobs.
    PROCESS: one process per job (LiveKit's default): full isolation, more memory.
    THREAD: one thread (with its own event loop) per job in the server process: no
    pickling, no isolation; for development and consoles.
    """

    ASYNC = "async"
    PROCESS = "process"
    THREAD = "thread"


class ServerType(enum.Enum):
    """What a job is about, with livekit-protocol's `JobType` numbers as values."""

    ROOM = 0  # agent.JT_ROOM: one job per room
    PUBLISHER = 1  # agent.JT_PUBLISHER: one job per publishing participant


WorkerType = ServerType


@dataclass(frozen=True)
class WorkerPermissions:
    """What the agent participant may do in the room; sent at registration so the
    dispatcher mints room tokens with these grants."""

    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    can_update_metadata: bool = True
    hidden: bool = False


@dataclass(frozen=True)
class JobAcceptArguments:
    """How the agent joins the room, as `JobRequest.accept` was told."""

    name: str
    identity: str
    metadata: str = ""
    attributes: dict[str, str] | None = None


@dataclass(frozen=True)
class ApiCredentials:
    """Server URL and keys a job needs for `ctx.api` / `ctx.delete_room()`."""

    url: str
    api_key: str
    api_secret: str


@dataclass(frozen=True)
class RunningJobInfo:
    """An assigned job as the executor runs it."""

    job_bytes: bytes
    accept_arguments: JobAcceptArguments
    url: str
    token: str
    worker_id: str
    fake_job: bool = False
    _job: list[agent.Job] = field(default_factory=list, repr=False, compare=False)

    @staticmethod
    def create(
        job: agent.Job,
        *,
        accept_arguments: JobAcceptArguments,
        url: str,
        token: str,
        worker_id: str,
        fake_job: bool = False,
    ) -> RunningJobInfo:
        return RunningJobInfo(
            job_bytes=job.SerializeToString(),
            accept_arguments=accept_arguments,
            url=url,
            token=token,
            worker_id=worker_id,
            fake_job=fake_job,
        )

    @property
    def job(self) -> agent.Job:
        """The protobuf `Job`, decoded once per process."""
        if not self._job:
            from livekit.protocol import agent

            self._job.append(agent.Job.FromString(self.job_bytes))
        return self._job[0]

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_job"] = []
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
