"""One job's life inside a host: run the entrypoint, decide when the job is over, shut
it down in order, and report the outcome.

The job is over when `ctx.shutdown()` is called, the server terminates it, the room
disconnects, the entrypoint raises or exceeds `entrypoint_timeout`, or the entrypoint
returned and nothing keeps the job alive any more (no open AgentSession, no connected
room). Every shutdown step is bounded in time, so a misbehaving job cannot hold its
host forever: the entrypoint gets `shutdown_process_timeout` to return, then is
cancelled; sessions close; `on_session_end(ctx)` runs (bounded by
`session_end_timeout`); the room disconnects; shutdown callbacks run.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ._ipc import JobEnded, JobStarted
from .job import JobContext, JobProcess, _job_ctx_var
from .room import RoomConnector
from .types import ApiCredentials, JobExecutorType, RunningJobInfo

logger = logging.getLogger("voxline.worker")

Entrypoint = Callable[[JobContext], Awaitable[None]]
SessionEndFnc = Callable[[JobContext], Awaitable[None]]
SetupFnc = Callable[[JobProcess], Any]


@dataclass(frozen=True)
class HostConfig:
    """What a host needs to run jobs; pickled to process hosts, so its callables must be
    importable (module-level) functions there."""

    entrypoint: Entrypoint
    executor_type: JobExecutorType
    setup_fnc: SetupFnc | None = None
    on_session_end: SessionEndFnc | None = None
    single_use: bool = False
    entrypoint_timeout: float | None = None
    shutdown_process_timeout: float = 10.0
    session_end_timeout: float = 300.0
    credentials: ApiCredentials | None = None
    room_connector: Callable[[], RoomConnector] | None = None
    log_level: str = "INFO"


async def _bounded(aw: Awaitable[Any], timeout: float, what: str) -> None:
    """Await `aw` for at most `timeout` seconds, then cancel it and move on, so one
    stuck step cannot stall the shutdown; its errors are logged, not raised."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        logger.warning("%s did not finish within %.1f s, cancelling it", what, timeout)
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
        return
    if not task.cancelled() and task.exception() is not None:
        logger.error("error in %s", what, exc_info=task.exception())


class JobRunner:
    def __init__(
        self,
        info: RunningJobInfo,
        proc: JobProcess,
        config: HostConfig,
        send: Callable[[object], Coroutine[Any, Any, None]],
    ) -> None:
        self._info = info
        self._proc = proc
        self._config = config
        self._send = send
        self._ctx: JobContext | None = None
        self._pending_terminate: str | None = None

    @property
    def job_id(self) -> str:
        return self._info.job.id

    def terminate(self, reason: str) -> None:
        if self._ctx is None:
            self._pending_terminate = reason
        else:
            self._ctx.shutdown(reason)

    def _in_job(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A task that sees this job as `current_job_context()`."""
        assert self._ctx is not None
        token = _job_ctx_var.set(self._ctx)
        try:
            return asyncio.get_running_loop().create_task(coro, name=f"{name}:{self.job_id}")
        finally:
            _job_ctx_var.reset(token)

    async def run(self) -> None:
        """Run the job to its end and report it; always sends `JobEnded`, even when the
        runner itself breaks or is cancelled."""
        failed, error, report = True, "", None
        try:
            failed, error, report = await self._run()
        except asyncio.CancelledError:
            failed, error = False, ""
            report = self._ctx.make_session_report() if self._ctx is not None else None
            raise
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            logger.exception("job %s runner failed", self.job_id)
        finally:
            with contextlib.suppress(Exception):
                await self._send(JobEnded(self.job_id, failed, error, report))

    async def _run(self) -> tuple[bool, str, dict[str, Any] | None]:
        cfg = self._config
        connector = cfg.room_connector() if cfg.room_connector is not None else None
        ctx = self._ctx = JobContext(
            info=self._info, proc=self._proc, credentials=cfg.credentials, room_connector=connector
        )
        if self._pending_terminate is not None:
            ctx.shutdown(self._pending_terminate)
        entry = self._in_job(_call_async(cfg.entrypoint, ctx), "job_entrypoint")
        await self._send(JobStarted(self.job_id))
        try:
            failed, error, reason = await self._wait_until_over(ctx, entry)
        except asyncio.CancelledError:
            # cancelled from outside (an in-process job's caller gave up): still shut
            # down in order, without waiting for the entrypoint
            await self._shut_down(
                ctx, entry, failed=False, error="", reason="cancelled", hurry=True
            )
            raise
        await self._shut_down(ctx, entry, failed=failed, error=error, reason=reason)
        return failed, error, ctx.make_session_report()

    async def _wait_until_over(
        self, ctx: JobContext, entry: asyncio.Task[Any]
    ) -> tuple[bool, str, str]:
        loop = asyncio.get_running_loop()
        timeout = self._config.entrypoint_timeout
        deadline = loop.time() + timeout if timeout is not None else None
        while True:
            if ctx._shutdown_fut.done():
                return False, "", ctx._shutdown_fut.result()
            if entry.done():
                if entry.cancelled():
                    return True, "entrypoint was cancelled", "entrypoint cancelled"
                exc = entry.exception()
                if exc is not None:
                    logger.error("job %s entrypoint raised", self.job_id, exc_info=exc)
                    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                    return True, text, "entrypoint raised"
                if not ctx._has_open_sessions() and not ctx.room.isconnected():
                    return False, "", "entrypoint finished"
            elif deadline is not None and loop.time() >= deadline:
                return True, f"entrypoint timed out after {timeout} s", "entrypoint timed out"
            ctx._wake.clear()
            woken = loop.create_task(ctx._wake.wait())
            waits: set[asyncio.Future[Any]] = {ctx._shutdown_fut, woken}
            wait_for = None
            if not entry.done():
                waits.add(entry)
                if deadline is not None:
                    wait_for = max(0.0, deadline - loop.time())
            try:
                await asyncio.wait(waits, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()

    async def _shut_down(
        self,
        ctx: JobContext,
        entry: asyncio.Task[Any],
        *,
        failed: bool,
        error: str,
        reason: str,
        hurry: bool = False,
    ) -> None:
        cfg = self._config
        grace = cfg.shutdown_process_timeout
        if not ctx._shutdown_fut.done():
            ctx._shutdown_fut.set_result(reason)
        if not entry.done():
            if failed or hurry:  # timed out or cancelled: no more grace
                entry.cancel()
            await _bounded(asyncio.shield(entry), grace, "the entrypoint")
            if not entry.done():
                entry.cancel()
                await asyncio.wait({entry}, timeout=1.0)
        if entry.done() and not entry.cancelled():
            entry.exception()  # retrieved: it was reported already

        await self._close_sessions(ctx, grace)
        ctx._mark_ended(failed=failed, error=error, reason=reason)

        if cfg.on_session_end is not None:
            fnc = cfg.on_session_end
            await _bounded(
                self._in_job(_call_async(fnc, ctx), "on_session_end"),
                cfg.session_end_timeout,
                "on_session_end",
            )

        connection = ctx.room.connection
        if connection is not None and connection.isconnected():
            await _bounded(connection.disconnect(), grace, "room disconnect")

        callbacks = [
            self._in_job(cb(reason), "shutdown_callback") for cb in ctx._shutdown_callbacks
        ]
        if callbacks:
            await _bounded(asyncio.gather(*callbacks, return_exceptions=True), grace, "callbacks")

        if ctx._pending_tasks:
            await _bounded(
                asyncio.gather(*ctx._pending_tasks, return_exceptions=True), grace, "job tasks"
            )
        for recorder in ctx._recorders:
            recorder.detach()
        if ctx._api is not None:
            with contextlib.suppress(Exception):
                await ctx._api.aclose()

    async def _close_sessions(self, ctx: JobContext, grace: float) -> None:
        from ..voice.events import CloseReason

        for recorder in ctx._recorders:
            session = recorder.session
            if session.lifecycle == "closed":
                continue
            start_close = getattr(session, "_start_close", None)
            if callable(start_close) and session.lifecycle != "initializing":
                start_close(CloseReason.JOB_SHUTDOWN)
            await _bounded(self._in_job(session.aclose(), "session_close"), grace, "session close")


async def _call_async(fnc: Callable[[JobContext], Any], ctx: JobContext) -> None:
    result = fnc(ctx)
    if inspect.isawaitable(result):
        await result
