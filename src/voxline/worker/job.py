"""What an entrypoint sees: `JobContext`, `JobProcess`, and the `JobRequest` that
`on_request` answers. Also the current-job context variable that lets an AgentSession
started inside a job register itself with it.

This module imports nothing heavy at import time, so `AgentSession.start` can look up the
current job cheaply whether or not it runs inside a worker.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from .._utils.aio import now
from .report import SessionRecorder
from .room import JobRoom, RoomConnector, default_room_connector
from .types import ApiCredentials, JobAcceptArguments, JobExecutorType, RunningJobInfo

if TYPE_CHECKING:
    from livekit import api
    from livekit.protocol import agent, models

    from ..voice.session import AgentSession

logger = logging.getLogger("voxline.worker")

_job_ctx_var: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "voxline_job_context", default=None
)


def current_job_context() -> JobContext | None:
    """The JobContext of the job whose code is running, or None outside a job."""
    return _job_ctx_var.get()


def get_job_context() -> JobContext:
    """Like `current_job_context()`, but raises outside a job."""
    ctx = _job_ctx_var.get()
    if ctx is None:
        raise RuntimeError("no job is running in this context (not inside an entrypoint)")
    return ctx


class JobProcess:
    """The process (or thread) hosting jobs. `setup_fnc` runs once per JobProcess, and
    what it puts in `userdata` (loaded models, say) every job of that process sees."""

    def __init__(
        self,
        *,
        executor_type: JobExecutorType,
        pid: int | None = None,
        userdata: dict[str, Any] | None = None,
    ) -> None:
        self._executor_type = executor_type
        self._pid = pid if pid is not None else os.getpid()
        self._userdata: dict[str, Any] = userdata if userdata is not None else {}

    @property
    def executor_type(self) -> JobExecutorType:
        return self._executor_type

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def userdata(self) -> dict[str, Any]:
        return self._userdata


class JobRequest:
    """A job offered to this worker; `on_request` accepts or rejects it."""

    def __init__(
        self,
        *,
        job: agent.Job,
        on_accept: Callable[[JobAcceptArguments], Awaitable[None]],
        on_reject: Callable[[bool], Awaitable[None]],
    ) -> None:
        self._job = job
        self._on_accept = on_accept
        self._on_reject = on_reject
        self._answered = False

    @property
    def id(self) -> str:
        return self._job.id

    @property
    def job(self) -> agent.Job:
        return self._job

    @property
    def room(self) -> models.Room:
        return self._job.room

    @property
    def publisher(self) -> models.ParticipantInfo | None:
        return self._job.participant if self._job.HasField("participant") else None

    @property
    def agent_name(self) -> str:
        return self._job.agent_name

    @property
    def answered(self) -> bool:
        return self._answered

    def _answer(self) -> None:
        if self._answered:
            raise RuntimeError(f"job request {self.id} was already answered")
        self._answered = True

    async def accept(
        self,
        *,
        name: str = "",
        identity: str = "",
        metadata: str = "",
        attributes: dict[str, str] | None = None,
    ) -> None:
        """Take the job: the agent joins as `identity` (default `agent-<job id>`)."""
        self._answer()
        args = JobAcceptArguments(
            name=name,
            identity=identity or f"agent-{self.id}",
            metadata=metadata,
            attributes=dict(attributes) if attributes else None,
        )
        await self._on_accept(args)

    async def reject(self, *, terminate: bool = False) -> None:
        """Decline; the dispatcher offers the job to another worker unless `terminate`."""
        self._answer()
        await self._on_reject(terminate)


ShutdownCallback = (
    Callable[[str], Coroutine[Any, Any, None]] | Callable[[], Coroutine[Any, Any, None]]
)


class JobContext:
    """Everything a running job has: its job, room, process, sessions and shutdown."""

    def __init__(
        self,
        *,
        info: RunningJobInfo,
        proc: JobProcess,
        credentials: ApiCredentials | None = None,
        room_connector: RoomConnector | None = None,
    ) -> None:
        self._info = info
        self._proc = proc
        self._credentials = credentials
        self._room_connector = room_connector
        job = info.job
        self._room = JobRoom(job.room, url=info.url, token=info.token)
        self._shutdown_fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._wake = asyncio.Event()
        self._connect_lock = asyncio.Lock()
        self._shutdown_callbacks: list[Callable[[str], Coroutine[Any, Any, None]]] = []
        self._recorders: list[SessionRecorder] = []
        self._pending_tasks: set[asyncio.Task[Any]] = set()
        self._api: api.LiveKitAPI | None = None
        self._started_at = time.time()
        self._started_mono = now()
        self._ended_at: float | None = None
        self._duration: float | None = None
        self._status = "running"
        self._error = ""
        self._shutdown_reason = ""

    # ------------------------------------------------------------------ what the job is

    @property
    def job(self) -> agent.Job:
        return self._info.job

    @property
    def room(self) -> JobRoom:
        return self._room

    @property
    def proc(self) -> JobProcess:
        return self._proc

    @property
    def worker_id(self) -> str:
        return self._info.worker_id

    @property
    def token(self) -> str:
        return self._info.token

    @property
    def accept_arguments(self) -> JobAcceptArguments:
        return self._info.accept_arguments

    @property
    def local_participant_identity(self) -> str:
        return self._info.accept_arguments.identity

    def is_fake_job(self) -> bool:
        return self._info.fake_job

    @property
    def sessions(self) -> list[AgentSession[Any]]:
        return [r.session for r in self._recorders]

    @property
    def primary_session(self) -> AgentSession[Any]:
        if not self._recorders:
            raise RuntimeError("no AgentSession was started in this job")
        return self._recorders[0].session

    # ------------------------------------------------------------------ sessions

    def register_session(self, session: AgentSession[Any]) -> None:
        """Record `session`'s events for the report and keep the job alive while it is
        open; the first one registered is the primary session. Idempotent.

        `AgentSession.start` calls this when a job is current; registering before
        `start` also captures the events start emits."""
        if any(r.session is session for r in self._recorders):
            return
        self._recorders.append(SessionRecorder(session, on_close=self._wake.set))
        self._wake.set()

    def _has_open_sessions(self) -> bool:
        return any(not r.closed for r in self._recorders)

    # ------------------------------------------------------------------ room

    async def connect(self, **options: Any) -> None:
        """Connect to the room (once; later calls return at once). `options` go to the
        backend (for LiveKit: `auto_subscribe`, `encryption`, `rtc_config`, ...)."""
        async with self._connect_lock:
            if self._room.connection is not None:
                return
            connector = self._room_connector or default_room_connector()
            connected = await connector.connect(self._info.url, self._info.token, **options)
            connected.on_disconnected(self._on_room_disconnected)
            self._room._attach(connected)
            self._wake.set()

    def _on_room_disconnected(self) -> None:
        self._wake.set()
        self.shutdown("room disconnected")

    async def wait_for_participant(self, *, identity: str | None = None, kind: Any = None) -> Any:
        """The first participant matching `identity`/`kind`, already in the room or
        joining later; connects first if needed."""
        await self.connect()
        connection = self._room.connection
        assert connection is not None
        return await connection.wait_for_participant(identity=identity, kind=kind)

    @property
    def api(self) -> api.LiveKitAPI:
        """A LiveKit server API client for the server this worker is registered with."""
        if self._api is None:
            if self._credentials is None:
                raise RuntimeError(
                    "ctx.api needs the server URL and API key/secret (AgentServer ws_url, "
                    "api_key, api_secret or LIVEKIT_URL/LIVEKIT_API_KEY/LIVEKIT_API_SECRET)"
                )
            from livekit import api

            url = self._credentials.url
            if url.startswith("ws"):
                url = "http" + url[2:]
            key, secret = self._credentials.api_key, self._credentials.api_secret
            try:  # no region failover against a self-hosted server (livekit-api >= 1.2)
                self._api = api.LiveKitAPI(url, key, secret, failover=False)
            except TypeError:
                self._api = api.LiveKitAPI(url, key, secret)
        return self._api

    def delete_room(self, room_name: str | None = None) -> asyncio.Task[None]:
        """Delete the room (every participant leaves; the server ends this job too)."""

        async def delete() -> None:
            if self.is_fake_job():
                logger.info("delete_room() skipped: fake job")
                return
            from livekit import api

            try:
                await self.api.room.delete_room(
                    api.DeleteRoomRequest(room=room_name or self._room.name)
                )
            except api.TwirpError as e:
                if e.code != api.TwirpErrorCode.NOT_FOUND:
                    logger.warning("error deleting room %s: %s", room_name or self._room.name, e)

        return self._track(asyncio.get_running_loop().create_task(delete(), name="delete_room"))

    def _track(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        self._pending_tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._pending_tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                logger.error("job task %s failed", t.get_name(), exc_info=t.exception())

        task.add_done_callback(done)
        return task

    # ------------------------------------------------------------------ shutdown

    def add_shutdown_callback(self, callback: ShutdownCallback) -> None:
        """Run `callback` (optionally taking the shutdown reason) when the job ends."""
        params = inspect.signature(callback).parameters
        if params:
            self._shutdown_callbacks.append(
                cast(Callable[[str], Coroutine[Any, Any, None]], callback)
            )
        else:
            no_arg = cast(Callable[[], Coroutine[Any, Any, None]], callback)

            async def wrapper(_: str) -> None:
                await no_arg()

            self._shutdown_callbacks.append(wrapper)

    def shutdown(self, reason: str = "") -> None:
        """End the job: the entrypoint gets a grace period, sessions close,
        `on_session_end` runs, then the shutdown callbacks."""
        if not self._shutdown_fut.done():
            self._shutdown_fut.set_result(reason or "user requested")
        self._wake.set()

    # ------------------------------------------------------------------ report

    def make_session_report(self) -> dict[str, Any]:
        """The job's report as JSON-serializable data: job, room, timings, and the
        primary session's history, events and metrics (other sessions under
        `other_sessions`)."""
        job = self.job
        primary = self._recorders[0].to_dict() if self._recorders else None
        return {
            "job_id": job.id,
            "dispatch_id": job.dispatch_id,
            "room": job.room.name,
            "room_id": job.room.sid,
            "agent_name": job.agent_name,
            "worker_id": self.worker_id,
            "participant_identity": self.local_participant_identity,
            "fake_job": self.is_fake_job(),
            "status": self._status,
            "error": self._error,
            "shutdown_reason": self._shutdown_reason,
            "timings": {
                "started_at": self._started_at,
                "ended_at": self._ended_at,
                "duration": self._duration,
            },
            "session": None
            if primary is None
            else {k: v for k, v in primary.items() if k not in ("history", "events", "metrics")},
            "history": primary["history"] if primary else None,
            "events": primary["events"] if primary else [],
            "metrics": primary["metrics"] if primary else [],
            "other_sessions": [r.to_dict() for r in self._recorders[1:]],
        }

    def _mark_ended(self, *, failed: bool, error: str, reason: str) -> None:
        self._status = "failed" if failed else "success"
        self._error = error
        self._shutdown_reason = reason
        self._ended_at = time.time()
        self._duration = now() - self._started_mono
