"""AgentServer: registers with a LiveKit-protocol dispatcher, answers job offers, and
runs accepted jobs in its pool of job hosts.

One server has one entrypoint (`@server.rtc_session()`). Offers are answered from the
server process (`on_request`); accepted jobs run in the pool, and their status goes back
to the dispatcher as `UpdateJobStatus`. `drain()` stops taking jobs and lets running ones
finish; `aclose()` shuts everything down in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from .._utils.aio import TaskSet, cancel_and_wait, now, short_id
from .._utils.emitter import EventEmitter
from ._runner import HostConfig
from .job import JobContext, JobProcess, JobRequest
from .load import SAMPLE_INTERVAL, CpuLoad
from .pool import HostStartError, JobPool
from .room import RoomConnector
from .types import (
    ATTRIBUTE_AGENT_NAME,
    ApiCredentials,
    JobAcceptArguments,
    JobExecutorType,
    RunningJobInfo,
    ServerType,
    WorkerPermissions,
)

if TYPE_CHECKING:
    from livekit.protocol import agent

    from .http import HealthServer
    from .protocol import WorkerConnection

logger = logging.getLogger("voxline.worker")

ASSIGNMENT_TIMEOUT = 7.5

ServerEvents = Literal["worker_registered", "job_started", "job_ended"]
EntrypointFnc = Callable[[JobContext], Awaitable[None]]
RequestFnc = Callable[[JobRequest], Awaitable[None]]
SessionEndFnc = Callable[[JobContext], Awaitable[None]]
LoadFnc = Callable[[], float] | Callable[["AgentServer"], float]
E = TypeVar("E", bound=EntrypointFnc)


def _room_token(api_key: str, api_secret: str, room: str, identity: str) -> str:
    """A room-join token for an agent sent into a room without a dispatch."""
    from livekit import api

    grants = api.VideoGrants(room_join=True, room=room, agent=True)
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_kind("agent")
        .with_grants(grants)
        .to_jwt()
    )


async def _default_on_request(request: JobRequest) -> None:
    await request.accept()


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended, as the `job_ended` event reports it."""

    job_id: str
    room: str
    failed: bool
    error: str
    report: dict[str, Any] | None

    @property
    def status(self) -> Literal["success", "failed"]:
        return "failed" if self.failed else "success"


@dataclass
class _ActiveJob:
    info: RunningJobInfo
    launched_at: float
    running: bool = False
    entrypoint_started_at: float | None = None


@dataclass
class _Entrypoint:
    fnc: EntrypointFnc
    agent_name: str
    type: ServerType
    on_request: RequestFnc
    on_session_end: SessionEndFnc | None
    extra: dict[str, Any] = field(default_factory=dict)


class AgentServer(EventEmitter[ServerEvents]):
    """A worker: register an entrypoint with `@server.rtc_session()`, then `run()`.

    Events: `worker_registered(worker_id, server_info)`, `job_started(RunningJobInfo)`,
    `job_ended(JobOutcome)`.
    """

    def __init__(
        self,
        *,
        ws_url: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        load_threshold: float = 0.7,
        load_fnc: LoadFnc | None = None,
        num_idle_processes: int | None = None,
        setup_fnc: Callable[[JobProcess], Any] | None = None,
        job_executor_type: JobExecutorType = JobExecutorType.ASYNC,
        job_memory_warn_mb: float = 500,
        job_memory_limit_mb: float = 0,
        drain_timeout: float = 1800,
        host: str = "127.0.0.1",
        port: int = 8081,
        log_level: str = "INFO",
        max_retry: int = 16,
        entrypoint_timeout: float | None = None,
        shutdown_process_timeout: float = 10.0,
        session_end_timeout: float = 300.0,
        initialize_process_timeout: float = 10.0,
        permissions: WorkerPermissions | None = None,
        multiprocessing_context: str | None = None,
        room_connector: Callable[[], RoomConnector] | None = None,
        http_proxy: str | None = None,
    ) -> None:
        super().__init__()
        if load_threshold <= 0:
            raise ValueError("load_threshold must be > 0 (use math.inf to disable it)")
        if num_idle_processes is not None and num_idle_processes < 1:
            raise ValueError("num_idle_processes must be >= 1")
        if entrypoint_timeout is not None and entrypoint_timeout <= 0:
            raise ValueError("entrypoint_timeout must be > 0 or None")
        level = log_level.upper()
        if level not in ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"invalid log_level {log_level!r}")
        self._ws_url = ws_url or os.environ.get("LIVEKIT_URL") or ""
        self._api_key = api_key or os.environ.get("LIVEKIT_API_KEY") or ""
        self._api_secret = api_secret or os.environ.get("LIVEKIT_API_SECRET") or ""
        self._load_threshold = load_threshold
        self._load_fnc = load_fnc
        self._num_processes = num_idle_processes or (os.cpu_count() or 1)
        self._num_processes_given = num_idle_processes is not None
        self._setup_fnc = setup_fnc
        self._executor_type = JobExecutorType(job_executor_type)
        self._memory_warn_mb = job_memory_warn_mb
        self._memory_limit_mb = job_memory_limit_mb
        self._drain_timeout = drain_timeout
        self._host = host
        self._port = port
        self._log_level = "DEBUG" if level == "TRACE" else ("WARNING" if level == "WARN" else level)
        self._max_retry = max_retry
        self._entrypoint_timeout = entrypoint_timeout
        self._shutdown_process_timeout = shutdown_process_timeout
        self._session_end_timeout = session_end_timeout
        self._initialize_process_timeout = initialize_process_timeout
        self._permissions = permissions or WorkerPermissions()
        self._mp_context = multiprocessing_context
        self._room_connector = room_connector
        self._http_proxy = http_proxy

        self._entry: _Entrypoint | None = None
        self._id = ""
        self._pool: JobPool | None = None
        self._http: HealthServer | None = None
        self._conn: WorkerConnection | None = None
        self._conn_task: asyncio.Task[None] | None = None
        self._tasks = TaskSet()
        self._request_tasks = TaskSet()
        self._jobs: dict[str, _ActiveJob] = {}
        self._pending_assignments: dict[str, asyncio.Future[agent.JobAssignment]] = {}
        self._reserved = 0
        self._cpu = CpuLoad()
        self._load = 0.0
        self._draining = False
        self._started = False
        self._closing = False
        self._done: asyncio.Future[None] | None = None
        self._jobs_changed: asyncio.Event | None = None
        self._connection_error: BaseException | None = None
        self._signals = 0
        self._close_task: asyncio.Task[None] | None = None
        self._local_proc: JobProcess | None = None

    # ------------------------------------------------------------------ registration

    @overload
    def rtc_session(self, func: E, /) -> E: ...

    @overload
    def rtc_session(
        self,
        func: None = None,
        /,
        *,
        agent_name: str = "",
        type: ServerType = ServerType.ROOM,
        on_request: RequestFnc | None = None,
        on_session_end: SessionEndFnc | None = None,
    ) -> Callable[[E], E]: ...

    def rtc_session(
        self,
        func: E | None = None,
        /,
        *,
        agent_name: str = "",
        type: ServerType = ServerType.ROOM,
        on_request: RequestFnc | None = None,
        on_session_end: SessionEndFnc | None = None,
    ) -> E | Callable[[E], E]:
        """Register the entrypoint `async def entry(ctx: JobContext)`, as `@rtc_session` or
        `@rtc_session(...)`. With `agent_name` the worker only gets explicit dispatches for
        that name; without it, every new room."""

        def register(fnc: E) -> E:
            if self._entry is not None:
                raise RuntimeError(
                    f"this AgentServer already has an entrypoint "
                    f"({getattr(self._entry.fnc, '__qualname__', self._entry.fnc)!r}); "
                    "only one rtc_session per server: run another AgentServer for another agent"
                )
            if not inspect.iscoroutinefunction(cast(Any, fnc)):
                raise TypeError("the entrypoint must be an `async def` taking a JobContext")
            self._entry = _Entrypoint(
                fnc=fnc,
                agent_name=agent_name,
                type=ServerType(type),
                on_request=on_request or _default_on_request,
                on_session_end=on_session_end,
            )
            return fnc

        return register(func) if func is not None else register

    # ------------------------------------------------------------------ inspection

    @property
    def entrypoint(self) -> EntrypointFnc | None:
        """The function registered with `@server.rtc_session` (None until then)."""
        return self._entry.fnc if self._entry is not None else None

    @property
    def id(self) -> str:
        """The worker id the dispatcher assigned ("" until registered)."""
        return self._id

    @property
    def agent_name(self) -> str:
        return self._entry.agent_name if self._entry else ""

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def registered(self) -> bool:
        return self._conn is not None and self._conn.connected

    @property
    def active_jobs(self) -> list[RunningJobInfo]:
        return [j.info for j in self._jobs.values()]

    @property
    def load(self) -> float:
        return self._load

    @property
    def pool(self) -> JobPool:
        if self._pool is None:
            raise RuntimeError("the server is not started")
        return self._pool

    @property
    def http_port(self) -> int | None:
        return self._http.port if self._http is not None else None

    # ------------------------------------------------------------------ lifecycle

    async def run(self, *, devmode: bool = False, handle_signals: bool = True) -> None:
        """Start, then serve until `aclose()` (or until the server cannot be reached after
        `max_retry` attempts, which raises). Cancelling it closes the server gracefully.

        In the main thread it handles SIGTERM the way orchestrators stop workers: the first
        drains (no new jobs, the dispatcher sees WS_FULL; running sessions get up to
        `drain_timeout`), then the server closes and `run` returns; a second SIGTERM ends
        the jobs at once. `devmode` lifts the load threshold (and warms one process unless
        `num_idle_processes` was given), as LiveKit's `dev` mode does."""
        if devmode:
            self._load_threshold = math.inf
            if not self._num_processes_given:
                self._num_processes = 1
        await self.start()
        assert self._done is not None
        loop = asyncio.get_running_loop()
        installed = handle_signals and self._install_sigterm(loop)
        try:
            await asyncio.shield(self._done)
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGTERM)
            await self.aclose()
        if self._connection_error is not None:
            raise self._connection_error

    def _install_sigterm(self, loop: asyncio.AbstractEventLoop) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False
        try:
            loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
        except (NotImplementedError, RuntimeError, ValueError):
            return False
        return True

    def _on_sigterm(self) -> None:
        self._signals += 1
        if self._signals == 1:
            logger.info("SIGTERM: draining (a second SIGTERM ends the jobs at once)")
            self._tasks.create(self._drain_then_close(), name="worker_drain")
        else:
            logger.warning("second SIGTERM: ending the jobs now")
            if self._close_task is None:
                self._closing = self._draining = True
                self._close_task = asyncio.get_running_loop().create_task(
                    self._aclose(force=True), name="worker_close"
                )
            if self._pool is not None:
                for host in self._pool.hosts:
                    host.kill("worker stopped at once")

    async def _drain_then_close(self) -> None:
        await self.drain()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)  # run() closes the server

    def _require_entry(self) -> _Entrypoint:
        if self._entry is None:
            raise RuntimeError("no entrypoint: decorate one with @server.rtc_session")
        return self._entry

    def _host_config(self, *, in_process: bool = False) -> HostConfig:
        entry = self._require_entry()
        credentials = (
            ApiCredentials(self._ws_url, self._api_key, self._api_secret)
            if self._ws_url and self._api_key and self._api_secret
            else None
        )
        return HostConfig(
            entrypoint=entry.fnc,
            executor_type=JobExecutorType.THREAD if in_process else self._executor_type,
            setup_fnc=self._setup_fnc,
            on_session_end=entry.on_session_end,
            single_use=in_process or self._executor_type is not JobExecutorType.ASYNC,
            entrypoint_timeout=self._entrypoint_timeout,
            shutdown_process_timeout=self._shutdown_process_timeout,
            session_end_timeout=self._session_end_timeout,
            credentials=credentials,
            room_connector=self._room_connector,
            log_level=self._log_level,
        )

    async def start(self) -> None:
        """Warm the job pool, open the health endpoint, and connect to the server."""
        if self._started:
            raise RuntimeError("the server was already started")
        if self._entry is None:
            raise RuntimeError("no entrypoint: decorate one with @server.rtc_session()")
        if self._ws_url and (not self._api_key or not self._api_secret):
            raise ValueError(
                "api_key and api_secret are required to register "
                "(or set LIVEKIT_API_KEY / LIVEKIT_API_SECRET)"
            )
        self._started = True
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._jobs_changed = asyncio.Event()
        logging.getLogger("voxline.worker").setLevel(self._log_level)
        config = self._host_config()
        self._pool = JobPool(
            config=config,
            num_processes=self._num_processes,
            mp_context=self._mp_context,
            initialize_timeout=self._initialize_process_timeout,
            memory_warn_mb=self._memory_warn_mb,
            memory_limit_mb=self._memory_limit_mb,
            on_job_started=self._on_job_started,
            on_job_ended=self._on_job_ended,
        )
        try:
            await self._pool.start()
            from .http import HealthServer

            self._http = HealthServer(
                host=self._host, port=self._port, healthy=self._healthy, info=self._worker_info
            )
            await self._http.start()
        except BaseException:
            await self._pool.aclose(timeout=1.0)
            raise
        self._tasks.create(self._load_loop(), name="worker_load")
        if self._ws_url:
            from .protocol import WorkerConnection

            self._conn = WorkerConnection(
                ws_url=self._ws_url,
                api_key=self._api_key,
                api_secret=self._api_secret,
                handler=self,
                max_retry=self._max_retry,
                http_proxy=self._http_proxy,
            )
            self._conn_task = loop.create_task(self._run_connection(), name="worker_connection")
        else:
            logger.warning("no ws_url (or LIVEKIT_URL): the worker runs unregistered")

    async def _run_connection(self) -> None:
        assert self._conn is not None
        try:
            await self._conn.run()
        except Exception as e:
            logger.error("%s", e)
            self._connection_error = e
            if self._done is not None and not self._done.done():
                self._done.set_result(None)

    async def drain(self, timeout: float | None = None) -> None:
        """Stop taking jobs (the dispatcher sees WS_FULL) and wait for running jobs to end,
        at most `timeout` (default `drain_timeout`) seconds; then end the rest."""
        self._draining = True
        if self._conn is not None:
            self._conn.send_status_now()
        timeout = self._drain_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not await self._wait_jobs_done(deadline):
            logger.warning("drain timed out with %d job(s) running: ending them", len(self._jobs))
            for job_id in list(self._jobs):
                if self._pool is not None:
                    self._pool.terminate(job_id, "worker drain timed out")
            grace = self._shutdown_process_timeout * 2 + 5
            await self._wait_jobs_done(loop.time() + grace)

    async def _wait_jobs_done(self, deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        assert self._jobs_changed is not None
        while self._jobs or self._reserved:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._jobs_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._jobs_changed.wait(), remaining)
        return True

    async def aclose(self, *, force: bool = False) -> None:
        """Stop: running jobs are shut down gracefully (killed at once with `force`),
        their final status reaches the dispatcher, then the connection closes. Callers
        arriving while a close is under way wait for it."""
        if not self._started:
            return
        if self._close_task is None:
            self._closing = True
            self._draining = True
            self._close_task = asyncio.get_running_loop().create_task(
                self._aclose(force), name="worker_close"
            )
        await asyncio.shield(self._close_task)

    async def _aclose(self, force: bool) -> None:
        await self._request_tasks.aclose()
        for fut in self._pending_assignments.values():
            fut.cancel()
        await cancel_and_wait(*self._tasks.tasks)
        if self._pool is not None:
            grace = self._shutdown_process_timeout * 2 + self._session_end_timeout
            await self._pool.aclose(timeout=0.0 if force else grace)
        if self._conn is not None:
            await self._conn.aclose()
        if self._conn_task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._conn_task), 5.0)
            if not self._conn_task.done():
                self._conn_task.cancel()
                await asyncio.wait({self._conn_task})
        if self._http is not None:
            await self._http.aclose()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def __aenter__(self) -> AgentServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ load

    def _call_load_fnc(self) -> float:
        fnc = self._load_fnc
        if fnc is None:
            return self._cpu.value
        if len(inspect.signature(fnc).parameters) == 0:
            return float(fnc())  # type: ignore[call-arg]
        return float(fnc(self))  # type: ignore[call-arg]

    def _refresh_load(self) -> None:
        try:
            self._load = self._call_load_fnc()
        except Exception:
            logger.exception("load_fnc failed")

    async def _load_loop(self) -> None:
        while True:
            if self._load_fnc is None:
                self._cpu.sample()
            self._refresh_load()
            await asyncio.sleep(SAMPLE_INTERVAL)

    def _effective_load(self) -> float:
        """The load plus an estimate for offers accepted but not yet running, so two
        offers arriving together do not both squeeze under the threshold (LiveKit's rule:
        the measured load per job, else the threshold shared by the warm processes)."""
        if self._jobs:
            per_job = self._load / len(self._jobs)
        elif math.isinf(self._load_threshold) or self._executor_type is JobExecutorType.ASYNC:
            per_job = 0.0  # an ASYNC session is a task, not a process: measure, not guess
        else:
            per_job = self._load_threshold / max(self._num_processes, 1)
        return self._load + self._reserved * per_job

    def _is_available(self) -> bool:
        if self._draining:
            return False
        if math.isinf(self._load_threshold):
            return True
        return self._effective_load() < self._load_threshold

    # ------------------------------------------------------------------ WorkerHandler

    def registration(self) -> agent.RegisterWorkerRequest:
        from livekit.protocol import agent, models

        from .. import __version__

        assert self._entry is not None
        perms = self._permissions
        return agent.RegisterWorkerRequest(
            type=agent.JobType.Name(self._entry.type.value),
            agent_name=self._entry.agent_name,
            version=f"voxline-{__version__}",
            allowed_permissions=models.ParticipantPermission(
                can_publish=perms.can_publish,
                can_subscribe=perms.can_subscribe,
                can_publish_data=perms.can_publish_data,
                can_update_metadata=perms.can_update_metadata,
                hidden=perms.hidden,
                agent=True,
            ),
        )

    def on_registered(self, response: agent.RegisterWorkerResponse) -> None:
        self._id = response.worker_id
        logger.info(
            "registered worker %s (agent_name=%r, server %s)",
            response.worker_id,
            self.agent_name,
            response.server_info.version or "?",
        )
        self.emit("worker_registered", response.worker_id, response.server_info)

    def on_disconnected(self) -> None:
        for fut in self._pending_assignments.values():
            if not fut.done():
                fut.cancel()

    def worker_status(self) -> agent.UpdateWorkerStatus:
        from livekit.protocol import agent

        if self._draining:
            status = agent.WorkerStatus.WS_FULL
        elif not math.isinf(self._load_threshold) and (
            self._effective_load() >= self._load_threshold
        ):
            status = agent.WorkerStatus.WS_FULL
        else:
            status = agent.WorkerStatus.WS_AVAILABLE
        return agent.UpdateWorkerStatus(
            status=status,
            load=self._load,
            job_count=len(self._jobs),
            draining=self._draining,
        )

    def active_job_ids(self) -> list[str]:
        return [j.info.job.id for j in self._jobs.values() if not j.info.fake_job]

    def on_availability(self, request: agent.AvailabilityRequest) -> None:
        self._request_tasks.create(self._answer_availability(request), name="job_request")

    def on_assignment(self, assignment: agent.JobAssignment) -> None:
        fut = self._pending_assignments.pop(assignment.job.id, None)
        if fut is None or fut.done():
            logger.warning("assignment for an unknown job %s", assignment.job.id)
            return
        fut.set_result(assignment)

    def on_termination(self, termination: agent.JobTermination) -> None:
        if self._pool is not None and termination.job_id in self._jobs:
            self._pool.terminate(termination.job_id, "terminated by the server")

    # ------------------------------------------------------------------ offers

    def _send(self, msg: agent.WorkerMessage) -> None:
        if self._conn is not None:
            self._conn.send(msg)

    async def _answer_availability(self, request: agent.AvailabilityRequest) -> None:
        from livekit.protocol import agent

        job = request.job
        self._refresh_load()
        if not self._is_available():
            self._send(
                agent.WorkerMessage(
                    availability=agent.AvailabilityResponse(job_id=job.id, available=False)
                )
            )
            return
        self._reserved += 1
        received_at = now()

        async def on_reject(terminate: bool) -> None:
            self._send(
                agent.WorkerMessage(
                    availability=agent.AvailabilityResponse(
                        job_id=job.id, available=False, terminate=terminate
                    )
                )
            )

        async def on_accept(args: JobAcceptArguments) -> None:
            attributes = {ATTRIBUTE_AGENT_NAME: self.agent_name, **(args.attributes or {})}
            fut: asyncio.Future[agent.JobAssignment] = asyncio.get_running_loop().create_future()
            self._pending_assignments[job.id] = fut
            self._send(
                agent.WorkerMessage(
                    availability=agent.AvailabilityResponse(
                        job_id=job.id,
                        available=True,
                        participant_identity=args.identity,
                        participant_name=args.name,
                        participant_metadata=args.metadata,
                        participant_attributes=attributes,
                    )
                )
            )
            try:
                assignment = await asyncio.wait_for(fut, ASSIGNMENT_TIMEOUT)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                logger.warning("no assignment for accepted job %s: dropping it", job.id)
                return
            finally:
                self._pending_assignments.pop(job.id, None)
            info = RunningJobInfo.create(
                assignment.job if assignment.HasField("job") else job,
                accept_arguments=args,
                url=assignment.url or self._ws_url,
                token=assignment.token,
                worker_id=self._id,
            )
            await self._launch(info, received_at=received_at)

        job_request = JobRequest(job=job, on_accept=on_accept, on_reject=on_reject)
        assert self._entry is not None
        try:
            await self._entry.on_request(job_request)
        except Exception:
            logger.exception("on_request failed for job %s", job.id)
        finally:
            if not job_request.answered:
                logger.warning("on_request did not answer job %s: rejecting it", job.id)
                with contextlib.suppress(RuntimeError):
                    await job_request.reject()
            self._reserved -= 1
            self._wake_jobs()

    async def _launch(self, info: RunningJobInfo, *, received_at: float | None = None) -> None:
        job_id = info.job.id
        self._jobs[job_id] = _ActiveJob(info=info, launched_at=received_at or now())
        assert self._pool is not None
        try:
            await self._pool.launch(info)
        except HostStartError as e:
            logger.error("could not launch job %s: %s", job_id, e)
            self._on_job_ended(job_id, True, f"could not launch the job: {e}", None)
        except BaseException:
            self._on_job_ended(job_id, True, "the worker shut down before the job started", None)
            raise

    async def simulate_job(
        self,
        room_name: str,
        *,
        console_io: Any = None,
        participant_identity: str | None = None,
        metadata: str = "",
        fake_job: bool | None = None,
    ) -> None:
        """Run one job of the entrypoint in this process and event loop, without a
        dispatch, and return when it has ended (`voxline.cli`'s `console` and `connect`).

        With `console_io` the job is a fake one: its room is a stand-in, and sessions it
        starts attach to the console (`voxline.console.use_console_io` is active around
        it). Without, it is a job in the named room of the configured server, with a room
        token minted from the API key; `participant_identity` becomes the job's
        participant, whom `ctx.wait_for_participant()` then waits for. Cancelling it
        shuts the job down (its sessions close, its callbacks run)."""
        from livekit.protocol import agent, models

        from ._ipc import JobEnded, JobStarted
        from ._runner import JobRunner

        entry = self._require_entry()
        job = agent.Job(
            id=short_id("AJ_simulated"),
            type=agent.JobType.Name(entry.type.value),
            room=models.Room(sid=short_id("RM_simulated"), name=room_name),
            agent_name=entry.agent_name,
            metadata=metadata,
        )
        if participant_identity:
            job.participant.CopyFrom(models.ParticipantInfo(identity=participant_identity))
        fake = console_io is not None if fake_job is None else fake_job
        identity = f"agent-{job.id}"
        token = ""
        if not fake and self._api_key and self._api_secret:
            token = _room_token(self._api_key, self._api_secret, room_name, identity)
        info = RunningJobInfo.create(
            job,
            accept_arguments=JobAcceptArguments(name="", identity=identity),
            url=self._ws_url,
            token=token,
            worker_id=self._id or "unregistered",
            fake_job=fake,
        )
        proc = await self._local_process()
        self._jobs[job.id] = _ActiveJob(info=info, launched_at=now())

        async def report(msg: object) -> None:
            if isinstance(msg, JobStarted):
                self._on_job_started(msg.job_id)
            elif isinstance(msg, JobEnded):
                self._on_job_ended(msg.job_id, msg.failed, msg.error, msg.report)

        runner = JobRunner(info, proc, self._host_config(in_process=True), report)
        try:
            if console_io is None:
                await runner.run()
            else:
                from ..console import use_console_io

                with use_console_io(console_io):
                    await runner.run()
        finally:
            self._jobs.pop(job.id, None)
            self._wake_jobs()

    async def _local_process(self) -> JobProcess:
        """The JobProcess of jobs run in this process; prewarmed once."""
        if self._local_proc is None:
            proc = JobProcess(executor_type=JobExecutorType.THREAD)
            if self._setup_fnc is not None:
                result = self._setup_fnc(proc)
                if inspect.isawaitable(result):
                    await result
            self._local_proc = proc
        return self._local_proc

    # ------------------------------------------------------------------ pool events

    def _wake_jobs(self) -> None:
        if self._jobs_changed is not None:
            self._jobs_changed.set()

    def _job_status(self, job_id: str, status: agent.JobStatus, error: str = "") -> None:
        from livekit.protocol import agent

        update = agent.UpdateJobStatus(job_id=job_id, status=status, error=error)
        self._send(agent.WorkerMessage(update_job=update))

    def _on_job_started(self, job_id: str) -> None:
        from livekit.protocol import agent

        active = self._jobs.get(job_id)
        if active is None:
            return
        active.running = True
        active.entrypoint_started_at = now()
        if not active.info.fake_job:
            self._job_status(job_id, agent.JobStatus.JS_RUNNING)
        self.emit("job_started", active.info)

    def _on_job_ended(
        self, job_id: str, failed: bool, error: str, report: dict[str, Any] | None
    ) -> None:
        from livekit.protocol import agent

        active = self._jobs.pop(job_id, None)
        if active is None:
            return
        if not active.info.fake_job:
            status = agent.JobStatus.JS_FAILED if failed else agent.JobStatus.JS_SUCCESS
            self._job_status(job_id, status, error)
        if self._conn is not None:
            self._conn.send_status_now()
        self._wake_jobs()
        self.emit(
            "job_ended",
            JobOutcome(
                job_id=job_id,
                room=active.info.job.room.name,
                failed=failed,
                error=error,
                report=report,
            ),
        )

    # ------------------------------------------------------------------ health

    def _healthy(self) -> bool:
        return self._connection_error is None and not self._closing

    def _worker_info(self) -> dict[str, Any]:
        from .. import __version__

        pool = self._pool
        return {
            "agent_name": self.agent_name,
            "worker_type": "JT_ROOM"
            if self._entry is None or self._entry.type is ServerType.ROOM
            else "JT_PUBLISHER",
            "worker_id": self._id,
            "registered": self.registered,
            "status": "draining"
            if self._draining
            else ("full" if not self._is_available() else "available"),
            "load": self._load,
            "load_threshold": None if math.isinf(self._load_threshold) else self._load_threshold,
            "active_jobs": len(self._jobs),
            "executor_type": self._executor_type.value,
            "processes": [
                {"id": h.id, "pid": h.pid, "jobs": len(h.jobs)}
                for h in (pool.hosts if pool else [])
            ],
            "sdk_version": __version__,
            "project_type": "python",
        }
