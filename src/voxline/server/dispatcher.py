"""The embedded agent dispatcher: the server side of LiveKit's agent worker protocol.

Workers (voxline's AgentServer, or LiveKit's own) connect to `/agent` with a JWT carrying
the `agent` grant and register. When a room is created, workers registered without an
agent name are dispatched automatically; `create_dispatch(room, agent_name)` dispatches
a named agent explicitly. A job is offered to the least-loaded available worker
(`AvailabilityRequest`); a worker that declines is skipped and the next one tried; the
one that accepts gets a `JobAssignment` with a room token minted for the identity it
chose. Job status comes back as `UpdateJobStatus`. A worker that disconnects fails its
jobs (and re-dispatches them if configured).

`Dispatcher(api_key, api_secret).app` is an aiohttp application the room server mounts;
`start(host, port)` serves it standalone. `livekit-api`'s RoomService and
AgentDispatchService calls work against it too (see `twirp.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import WSMsgType, web
from google.protobuf.json_format import MessageToDict
from livekit.protocol import agent, models

from .._utils.aio import TaskSet, now, short_id
from .._utils.emitter import EventEmitter
from . import tokens
from .state import (
    DispatchRecord,
    JobRecord,
    ProtocolMessage,
    RoomRecord,
    WorkerRecord,
)

if TYPE_CHECKING:
    from .room_server import RoomServer

logger = logging.getLogger("voxline.server")

PROTOCOL_VERSION = 16
REGISTER_TIMEOUT = 10.0
HEARTBEAT_INTERVAL = 30.0
MESSAGE_LOG_SIZE = 10_000

DispatcherEvents = Literal["worker_registered", "worker_disconnected", "job_status"]


class Dispatcher(EventEmitter[DispatcherEvents]):
    """Events: `worker_registered(WorkerRecord)`, `worker_disconnected(WorkerRecord)`,
    `job_status(JobRecord)` on every job status change."""

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        room_url: str | None = None,
        dispatch_timeout: float = 10.0,
        availability_timeout: float = 5.0,
        redispatch_on_worker_death: bool = False,
        version: str | None = None,
    ) -> None:
        super().__init__()
        key = api_key or os.environ.get("LIVEKIT_API_KEY")
        secret = api_secret or os.environ.get("LIVEKIT_API_SECRET")
        if not key or not secret:
            raise ValueError("the dispatcher needs an API key and secret to verify workers")
        self.api_key = key
        self.api_secret = secret
        self._room_url = room_url
        self.dispatch_timeout = dispatch_timeout
        self.availability_timeout = availability_timeout
        self.redispatch_on_worker_death = redispatch_on_worker_death
        if version is None:
            from .. import __version__

            version = f"voxline-{__version__}"
        self._version = version
        self.workers: dict[str, WorkerRecord] = {}
        self.jobs: dict[str, JobRecord] = {}
        self.rooms: dict[str, RoomRecord] = {}
        self.dispatches: dict[str, DispatchRecord] = {}
        self.messages: deque[ProtocolMessage] = deque(maxlen=MESSAGE_LOG_SIZE)
        self.room_server: RoomServer | None = None
        """Set by the room server that mounts this dispatcher: Twirp calls reach its rooms."""
        self._tasks = TaskSet()
        self._changed: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._host = ""
        self._port = 0
        self._closing = False
        self.app = web.Application()
        self.app.router.add_get("/agent", self._agent_ws)
        from .twirp import add_twirp_routes

        add_twirp_routes(self.app, self)
        self.app.on_shutdown.append(self._on_app_shutdown)

    # ------------------------------------------------------------------ serving

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve standalone; returns the bound port (pass 0 for an ephemeral one)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._host = host
        self._port = int(self._runner.addresses[0][1])
        return self._port

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The `ws://` URL workers register with (the LIVEKIT_URL of this server)."""
        return f"ws://{self._host}:{self._port}"

    @property
    def room_url(self) -> str:
        """The URL sent in assignments: where agents connect to their room."""
        return self._room_url or self.url

    @room_url.setter
    def room_url(self, url: str | None) -> None:
        self._room_url = url

    async def aclose(self) -> None:
        """Close every worker connection and stop serving."""
        self._closing = True
        await self._close_workers()
        await self._tasks.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_app_shutdown(self, app: web.Application) -> None:
        self._closing = True
        await self._close_workers()

    async def _close_workers(self) -> None:
        for worker in list(self.workers.values()):
            if worker.ws is not None and not worker.ws.closed:
                await worker.ws.close(code=1001, message=b"server shutting down")

    # ------------------------------------------------------------------ state helpers

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _changed_event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds (checked after every state change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError("dispatcher state did not reach the condition")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed_event().wait(), remaining)

    async def wait_for_job(
        self, job_id: str, *statuses: agent.JobStatus, timeout: float = 10.0
    ) -> JobRecord:
        """Wait until the job reaches one of `statuses` (default: any final status)."""

        def reached() -> bool:
            job = self.jobs.get(job_id)
            if job is None:
                return False
            return job.status in statuses if statuses else job.done

        await self.wait_for(reached, timeout)
        return self.jobs[job_id]

    def jobs_in_room(self, room: str) -> list[JobRecord]:
        return [j for j in self.jobs.values() if j.room == room]

    def messages_of(self, worker_id: str) -> list[ProtocolMessage]:
        return [m for m in self.messages if m.worker_id == worker_id]

    # ------------------------------------------------------------------ rooms & dispatch

    def create_room(
        self,
        name: str,
        *,
        metadata: str = "",
        agents: Sequence[tuple[str, str]] = (),
    ) -> RoomRecord:
        """Create `name` (idempotent). `agents` — (agent_name, metadata) pairs — are
        dispatched explicitly; without them, workers registered with no agent name get
        the room automatically."""
        room = self.rooms.get(name)
        if room is not None:
            return room
        room = RoomRecord(name=name, sid=short_id("RM"), metadata=metadata)
        self.rooms[name] = room
        if agents:
            for agent_name, agent_metadata in agents:
                self.create_dispatch(name, agent_name, agent_metadata)
        elif any(
            w.agent_name == "" and w.job_type == agent.JobType.JT_ROOM
            for w in self.workers.values()
        ):
            self._new_job(room, agent_name="", metadata="", dispatch_id="")
        self._notify()
        return room

    def delete_room(self, name: str) -> bool:
        """Delete the room: its jobs are terminated and its dispatches removed."""
        room = self.rooms.pop(name, None)
        if room is None:
            return False
        for job in self.jobs_in_room(name):
            if not job.done:
                self.terminate_job(job.id)
        for dispatch_id in room.dispatch_ids:
            self.dispatches.pop(dispatch_id, None)
        self._notify()
        return True

    def create_dispatch(self, room: str, agent_name: str, metadata: str = "") -> DispatchRecord:
        """Explicitly dispatch `agent_name` to `room` (creating the room if needed)."""
        room_rec = self.rooms.get(room)
        if room_rec is None:
            # a room created for an explicit dispatch gets no automatic agents
            room_rec = self.rooms[room] = RoomRecord(name=room, sid=short_id("RM"))
        dispatch = DispatchRecord(
            id=short_id("AD"), room=room, agent_name=agent_name, metadata=metadata
        )
        self.dispatches[dispatch.id] = dispatch
        room_rec.dispatch_ids.append(dispatch.id)
        self._new_job(room_rec, agent_name=agent_name, metadata=metadata, dispatch_id=dispatch.id)
        self._notify()
        return dispatch

    def delete_dispatch(self, dispatch_id: str, room: str = "") -> DispatchRecord | None:
        """Remove a dispatch and terminate its jobs."""
        dispatch = self.dispatches.get(dispatch_id)
        if dispatch is None or (room and dispatch.room != room):
            return None
        del self.dispatches[dispatch_id]
        room_rec = self.rooms.get(dispatch.room)
        if room_rec is not None and dispatch_id in room_rec.dispatch_ids:
            room_rec.dispatch_ids.remove(dispatch_id)
        for job_id in dispatch.job_ids:
            job = self.jobs.get(job_id)
            if job is not None and not job.done:
                job.reason = agent.JobStateReason.JSR_DISPATCH_DELETED
                self.terminate_job(job_id)
        self._notify()
        return dispatch

    def list_dispatch(self, room: str) -> list[DispatchRecord]:
        return [d for d in self.dispatches.values() if d.room == room]

    def add_publisher(self, room: str, identity: str) -> list[JobRecord]:
        """A participant started publishing: one job per publisher-type agent."""
        room_rec = self.create_room(room) if room not in self.rooms else self.rooms[room]
        names = {
            w.agent_name for w in self.workers.values() if w.job_type == agent.JobType.JT_PUBLISHER
        }
        return [
            self._new_job(
                room_rec,
                agent_name=name,
                metadata="",
                dispatch_id="",
                job_type=agent.JobType.JT_PUBLISHER,
                publisher=identity,
            )
            for name in sorted(names)
        ]

    def terminate_job(self, job_id: str) -> bool:
        """Ask the job's worker to end it (`JobTermination`); a job not yet assigned is
        cancelled at once."""
        job = self.jobs.get(job_id)
        if job is None or job.done:
            return False
        job.terminate_requested = True
        worker = self.workers.get(job.worker_id)
        if worker is None or not job.worker_id:
            self._set_job_status(job, agent.JobStatus.JS_CANCELLED, "terminated before assignment")
            return True
        termination = agent.ServerMessage(termination=agent.JobTermination(job_id=job_id))
        self._tasks.create(self._send_quietly(worker, termination), name="terminate_job")
        return True

    def _new_job(
        self,
        room: RoomRecord,
        *,
        agent_name: str,
        metadata: str,
        dispatch_id: str,
        job_type: agent.JobType = agent.JobType.JT_ROOM,
        publisher: str = "",
        only_worker: str = "",
    ) -> JobRecord:
        job = JobRecord(
            id=short_id("AJ"),
            dispatch_id=dispatch_id,
            room=room.name,
            room_sid=room.sid,
            agent_name=agent_name,
            metadata=metadata,
            type=job_type,
            publisher=publisher,
            only_worker=only_worker,
        )
        self.jobs[job.id] = job
        room.job_ids.append(job.id)
        if dispatch_id and dispatch_id in self.dispatches:
            self.dispatches[dispatch_id].job_ids.append(job.id)
        self._tasks.create(self._dispatch(job), name=f"dispatch_{job.id}")
        return job

    def _set_job_status(self, job: JobRecord, status: agent.JobStatus, error: str = "") -> None:
        if job.done:
            return
        job.set_status(status, error)
        if job.done:
            worker = self.workers.get(job.worker_id)
            if worker is not None:
                worker.jobs.discard(job.id)
        self.emit("job_status", job)
        self._notify()

    # ------------------------------------------------------------------ dispatching

    def _candidates(self, job: JobRecord) -> list[WorkerRecord]:
        found = [
            w
            for w in self.workers.values()
            if w.available
            and w.agent_name == job.agent_name
            and w.job_type == job.type
            and w.id not in job.offered_to
            and (not job.only_worker or w.id == job.only_worker)
        ]
        return sorted(found, key=lambda w: (w.load, len(w.jobs), w.registered_at))

    async def _dispatch(self, job: JobRecord) -> None:
        """Offer the job to workers, least loaded first, until one takes it; fail it when
        none has within `dispatch_timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.dispatch_timeout
        while not job.done and not self._closing:
            if job.terminate_requested:
                self._set_job_status(job, agent.JobStatus.JS_CANCELLED, "terminated")
                return
            candidates = self._candidates(job)
            if not candidates:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    job.reason = agent.JobStateReason.JSR_NO_CAPACITY
                    why = (
                        "no worker accepted the job"
                        if job.offered_to
                        else f"no available worker for agent {job.agent_name!r}"
                    )
                    self._set_job_status(job, agent.JobStatus.JS_FAILED, why)
                    return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed_event().wait(), remaining)
                continue
            worker = candidates[0]
            job.offered_to.append(worker.id)
            response = await self._offer(worker, job)
            if response is None or not response.available:
                if response is not None and response.terminate:
                    self._set_job_status(
                        job, agent.JobStatus.JS_FAILED, f"rejected by worker {worker.id}"
                    )
                    return
                continue
            if job.terminate_requested or not worker.connected:
                continue
            await self._assign(worker, job, response)
            return

    async def _offer(
        self, worker: WorkerRecord, job: JobRecord
    ) -> agent.AvailabilityResponse | None:
        fut: asyncio.Future[agent.AvailabilityResponse | None] = (
            asyncio.get_running_loop().create_future()
        )
        worker.pending[job.id] = fut
        try:
            offer = agent.AvailabilityRequest(job=job.to_proto())
            await self._send(worker, agent.ServerMessage(availability=offer))
            return await asyncio.wait_for(fut, self.availability_timeout)
        except (asyncio.TimeoutError, ConnectionError):
            logger.warning("worker %s did not answer the offer of job %s", worker.id, job.id)
            return None
        finally:
            worker.pending.pop(job.id, None)

    async def _assign(
        self, worker: WorkerRecord, job: JobRecord, response: agent.AvailabilityResponse
    ) -> None:
        identity = response.participant_identity or f"agent-{job.id}"
        job.worker_id = worker.id
        job.participant_identity = identity
        job.token = tokens.mint_agent_token(
            self.api_key,
            self.api_secret,
            room=job.room,
            identity=identity,
            name=response.participant_name,
            metadata=response.participant_metadata,
            attributes=dict(response.participant_attributes),
            permissions=worker.permissions,
        )
        job.assigned_at = now()
        worker.jobs.add(job.id)
        assignment = agent.JobAssignment(job=job.to_proto(), url=self.room_url, token=job.token)
        try:
            await self._send(worker, agent.ServerMessage(assignment=assignment))
        except ConnectionError:
            self._set_job_status(job, agent.JobStatus.JS_FAILED, "worker disconnected")
            return
        self.emit("job_status", job)
        self._notify()

    # ------------------------------------------------------------------ the socket

    async def _send(self, worker: WorkerRecord, msg: agent.ServerMessage) -> None:
        ws = worker.ws
        if ws is None or ws.closed or not worker.connected:
            raise ConnectionError(f"worker {worker.id} is not connected")
        self._log("send", worker.id, msg)
        async with worker.send_lock:
            try:
                await ws.send_bytes(msg.SerializeToString())
            except (ConnectionError, RuntimeError) as e:
                raise ConnectionError(str(e)) from e

    def _log(self, direction: Literal["recv", "send"], worker_id: str, msg: Any) -> None:
        which = msg.WhichOneof("message") or ""
        data = MessageToDict(getattr(msg, which)) if which else {}
        self.messages.append(ProtocolMessage(direction, worker_id, which, data, now()))

    async def _agent_ws(self, request: web.Request) -> web.StreamResponse:
        try:
            token = tokens.bearer_token(
                request.headers.get("Authorization"), request.query.get("access_token")
            )
            claims = tokens.verify(self.api_key, self.api_secret, token)
        except tokens.AuthError as e:
            return web.json_response({"code": "unauthenticated", "msg": str(e)}, status=401)
        if claims.video is None or not claims.video.agent:
            return web.json_response(
                {"code": "permission_denied", "msg": "the token lacks the agent grant"},
                status=403,
            )
        if self._closing:
            return web.Response(status=503, text="server shutting down")
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_INTERVAL, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        worker = await self._register(ws)
        if worker is None:
            await ws.close()
            return ws
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    self._handle(worker, agent.WorkerMessage.FromString(msg.data))
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._worker_gone(worker)
        return ws

    async def _register(self, ws: web.WebSocketResponse) -> WorkerRecord | None:
        try:
            first = await ws.receive(timeout=REGISTER_TIMEOUT)
        except asyncio.TimeoutError:
            return None
        if first.type != WSMsgType.BINARY:
            return None
        msg = agent.WorkerMessage.FromString(first.data)
        worker_id = short_id("AW")
        self._log("recv", worker_id, msg)
        if msg.WhichOneof("message") != "register":
            logger.warning("a worker's first message was not register: %s", msg)
            return None
        reg = msg.register
        worker = WorkerRecord(
            id=worker_id,
            agent_name=reg.agent_name,
            job_type=reg.type,
            version=reg.version,
            namespace=reg.namespace,
            permissions=reg.allowed_permissions,
            ws=ws,
        )
        self.workers[worker.id] = worker
        response = agent.RegisterWorkerResponse(
            worker_id=worker.id,
            server_info=models.ServerInfo(
                edition=models.ServerInfo.Edition.Standard,
                version=self._version,
                protocol=PROTOCOL_VERSION,
                region="local",
                node_id=f"voxline-{os.getpid()}",
            ),
        )
        try:
            await self._send(worker, agent.ServerMessage(register=response))
        except ConnectionError:
            self._worker_gone(worker)
            return None
        logger.info(
            "worker %s registered (agent_name=%r, type=%s, version=%s)",
            worker.id,
            worker.agent_name,
            agent.JobType.Name(worker.job_type),
            worker.version,
        )
        self.emit("worker_registered", worker)
        self._notify()
        return worker

    def _handle(self, worker: WorkerRecord, msg: agent.WorkerMessage) -> None:
        self._log("recv", worker.id, msg)
        which = msg.WhichOneof("message")
        if which == "availability":
            fut = worker.pending.get(msg.availability.job_id)
            if fut is not None and not fut.done():
                fut.set_result(msg.availability)
        elif which == "update_worker":
            update = msg.update_worker
            worker.status = update.status
            worker.load = update.load
            worker.job_count = update.job_count
            worker.draining = update.draining
            worker.status_reports += 1
            self._notify()
        elif which == "update_job":
            self._on_job_update(worker, msg.update_job)
        elif which == "ping":
            pong = agent.WorkerPong(
                last_timestamp=msg.ping.timestamp, timestamp=int(time.time() * 1000)
            )
            self._tasks.create(self._send_quietly(worker, agent.ServerMessage(pong=pong)))
        elif which == "migrate_job":
            self._adopt(worker, list(msg.migrate_job.job_ids), list(msg.migrate_job.jobs))
        elif which == "simulate_job":
            sim = msg.simulate_job
            room = self.create_room(sim.room.name or short_id("simulated"))
            self._new_job(
                room,
                agent_name=worker.agent_name,
                metadata="",
                dispatch_id="",
                job_type=sim.type,
                only_worker=worker.id,
            )
        elif which == "register":
            logger.warning("worker %s registered twice; ignoring", worker.id)

    async def _send_quietly(self, worker: WorkerRecord, msg: agent.ServerMessage) -> None:
        with contextlib.suppress(ConnectionError):
            await self._send(worker, msg)

    def _on_job_update(self, worker: WorkerRecord, update: agent.UpdateJobStatus) -> None:
        job = self.jobs.get(update.job_id)
        if job is None:
            logger.warning("worker %s updated an unknown job %s", worker.id, update.job_id)
            return
        if job.worker_id != worker.id:
            logger.warning("worker %s updated job %s it does not run", worker.id, job.id)
            return
        if update.status == agent.JobStatus.JS_PENDING:
            return
        self._set_job_status(job, update.status, update.error)

    def _adopt(self, worker: WorkerRecord, job_ids: list[str], jobs: list[agent.Job]) -> None:
        """A reconnecting worker still runs these jobs: they are its again (and known
        to this dispatcher even if it restarted since they were assigned)."""
        described = {j.id: j for j in jobs}
        for job_id in job_ids:
            job = self.jobs.get(job_id)
            if job is None:
                proto = described.get(job_id)
                room_name = proto.room.name if proto is not None else ""
                job = JobRecord(
                    id=job_id,
                    dispatch_id=proto.dispatch_id if proto is not None else "",
                    room=room_name,
                    room_sid=proto.room.sid if proto is not None else "",
                    agent_name=worker.agent_name,
                    metadata=proto.metadata if proto is not None else "",
                    type=worker.job_type,
                )
                self.jobs[job_id] = job
            job.worker_id = worker.id
            job.error = ""
            job.ended_at = None
            job.status = agent.JobStatus.JS_RUNNING
            job.history.append(("JS_RUNNING", now()))
            worker.jobs.add(job_id)
            self.emit("job_status", job)
        self._notify()

    def _worker_gone(self, worker: WorkerRecord) -> None:
        if not worker.connected:
            return
        worker.connected = False
        self.workers.pop(worker.id, None)
        for fut in worker.pending.values():
            if not fut.done():
                fut.set_result(None)
        for job_id in sorted(worker.jobs):
            job = self.jobs.get(job_id)
            if job is None or job.done:
                continue
            self._set_job_status(job, agent.JobStatus.JS_FAILED, "worker disconnected")
            redispatch = self.redispatch_on_worker_death and not job.terminate_requested
            if redispatch and not self._closing:
                room = self.rooms.get(job.room)
                if room is not None:
                    new = self._new_job(
                        room,
                        agent_name=job.agent_name,
                        metadata=job.metadata,
                        dispatch_id=job.dispatch_id,
                        job_type=job.type,
                        publisher=job.publisher,
                    )
                    logger.info("re-dispatching job %s as %s", job.id, new.id)
        worker.jobs.clear()
        logger.info("worker %s disconnected", worker.id)
        self.emit("worker_disconnected", worker)
        self._notify()
