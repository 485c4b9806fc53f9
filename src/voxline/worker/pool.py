"""The server's side of the job hosts: a warm pool of processes (or threads), job
placement, and supervision (liveness pings, memory limits, crash detection).

ASYNC keeps `num_processes` long-lived hosts, each running many jobs, and places a job on
the host with the fewest. PROCESS and THREAD keep `num_processes` idle hosts warm and use
each for exactly one job. A host that dies takes only its own jobs down: they are
reported failed and the pool replaces the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import multiprocessing.context
import os
import pickle
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._utils.aio import TaskSet, cancel_and_wait, now
from ._host import process_main, thread_main
from ._ipc import (
    Channel,
    ChannelClosed,
    HostInitFailed,
    HostReady,
    JobEnded,
    JobStarted,
    Ping,
    Pong,
    ShutdownHost,
    StartJob,
    TerminateJob,
)
from ._runner import HostConfig
from .types import JobExecutorType, RunningJobInfo

logger = logging.getLogger("voxline.worker")

PING_INTERVAL = 2.5
UNRESPONSIVE_TIMEOUT = 60.0
MEMORY_CHECK_INTERVAL = 5.0
RESPAWN_DELAY = 1.0

OnJobStarted = Callable[[str], None]
OnJobEnded = Callable[[str, bool, str, "dict[str, Any] | None"], None]


class HostStartError(RuntimeError):
    """A job host could not start (its setup_fnc raised, or it did not get ready)."""


def default_mp_context() -> str:
    """forkserver where it exists (Linux): children start from a clean, preloaded
    interpreter, inherit no sockets or threads of the server, and start fast."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def rss_bytes(pid: int) -> int | None:
    """Resident memory of `pid`, via psutil or /proc; None if unknown."""
    try:
        import psutil  # type: ignore[import-untyped, unused-ignore]

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        pass
    except Exception:
        return None
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Host:
    """One job host as the server sees it."""

    id: str
    kind: JobExecutorType
    channel: Channel | None = None
    process: multiprocessing.process.BaseProcess | None = None
    thread: threading.Thread | None = None
    pid: int | None = None
    jobs: dict[str, RunningJobInfo] = field(default_factory=dict)
    ready: bool = False
    used: bool = False
    exiting: bool = False
    kill_reason: str = ""
    last_pong: float = 0.0
    memory_warned: bool = False
    tasks: TaskSet = field(default_factory=TaskSet)
    exited: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def alive(self) -> bool:
        return not self.exited.is_set()

    def kill(self, reason: str) -> None:
        if not self.kill_reason:
            self.kill_reason = reason
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        elif self.channel is not None:
            # a thread cannot be killed: cut its channel, it shuts its job down
            self.tasks.create(self.channel.aclose())


class JobPool:
    def __init__(
        self,
        *,
        config: HostConfig,
        num_processes: int,
        mp_context: str | None = None,
        initialize_timeout: float = 10.0,
        memory_warn_mb: float = 500.0,
        memory_limit_mb: float = 0.0,
        on_job_started: OnJobStarted,
        on_job_ended: OnJobEnded,
    ) -> None:
        self._config = config
        self._kind = config.executor_type
        self._num = max(1, num_processes)
        self._mp_method = mp_context or default_mp_context()
        self._initialize_timeout = initialize_timeout
        self._memory_warn_mb = memory_warn_mb
        self._memory_limit_mb = memory_limit_mb
        self._on_job_started = on_job_started
        self._on_job_ended = on_job_ended
        self._hosts: list[Host] = []
        self._job_hosts: dict[str, Host] = {}
        self._ids = itertools.count(1)
        self._tasks = TaskSet()
        self._exit_tasks = TaskSet()
        self._start_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._closing = False
        self._started = False
        self.last_init_error = ""

    # ------------------------------------------------------------------ inspection

    @property
    def executor_type(self) -> JobExecutorType:
        return self._kind

    @property
    def hosts(self) -> list[Host]:
        return [h for h in self._hosts if h.alive]

    @property
    def running_jobs(self) -> list[RunningJobInfo]:
        return [info for h in self._hosts for info in h.jobs.values()]

    def host_of(self, job_id: str) -> Host | None:
        return self._job_hosts.get(job_id)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the warm hosts and wait until they are ready (or failed)."""
        if self._kind is not JobExecutorType.THREAD:
            check_picklable(self._config)
        self._started = True
        results = await asyncio.gather(
            *(self._start_host() for _ in range(self._num)), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if len(errors) == len(results):
            raise HostStartError(f"no job host could start: {errors[0]}") from errors[0]

    async def aclose(self, timeout: float = 10.0) -> None:
        """Ask every host to shut its jobs down; kill what is left after `timeout`."""
        self._closing = True
        await self._tasks.aclose()
        hosts = [h for h in self._hosts if h.alive]
        for host in hosts:
            host.exiting = True
            if host.channel is not None:
                with contextlib.suppress(ChannelClosed):
                    await host.channel.send(ShutdownHost("worker shutting down"))
        await self._wait_exited(hosts, timeout)
        for host in hosts:
            if host.alive:
                host.kill("worker shut down")
        await self._wait_exited(hosts, 10.0)
        pending = self._exit_tasks.tasks
        if pending:
            await asyncio.wait(pending, timeout=10.0)
        await self._exit_tasks.aclose()
        for host in hosts:
            await host.tasks.aclose()
        self._hosts.clear()

    @staticmethod
    async def _wait_exited(hosts: list[Host], timeout: float) -> None:
        waits = [asyncio.ensure_future(h.exited.wait()) for h in hosts if h.alive]
        if waits:
            await asyncio.wait(waits, timeout=timeout)
            await cancel_and_wait(*waits)

    # ------------------------------------------------------------------ jobs

    async def launch(self, info: RunningJobInfo) -> None:
        """Run `info` on a host; raises HostStartError if no host can take it."""
        if self._closing:
            raise HostStartError("the job pool is closing")
        host = await self._host_for_job()
        host.used = True
        host.jobs[info.job.id] = info
        self._job_hosts[info.job.id] = host
        assert host.channel is not None
        try:
            await host.channel.send(StartJob(info))
        except ChannelClosed as e:
            host.jobs.pop(info.job.id, None)
            self._job_hosts.pop(info.job.id, None)
            raise HostStartError("the job host exited before the job started") from e
        if self._kind is not JobExecutorType.ASYNC:
            self._tasks.create(self._replenish(), name="replenish_pool")

    def terminate(self, job_id: str, reason: str) -> bool:
        host = self._job_hosts.get(job_id)
        if host is None or host.channel is None:
            return False
        channel = host.channel

        async def send() -> None:
            with contextlib.suppress(ChannelClosed):
                await channel.send(TerminateJob(job_id, reason))

        self._tasks.create(send(), name="terminate_job")
        return True

    async def _host_for_job(self) -> Host:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._initialize_timeout
        while True:
            ready = [h for h in self._hosts if h.alive and h.ready and not h.exiting]
            if self._kind is JobExecutorType.ASYNC:
                if ready:
                    return min(ready, key=lambda h: len(h.jobs))
            else:
                idle = [h for h in ready if not h.used]
                if idle:
                    return idle[0]
            if self._kind is JobExecutorType.ASYNC:
                short = sum(1 for h in self._hosts if h.alive and not h.exiting) < self._num
            else:
                short = self._starting_or_idle() == 0
            if short:
                self._tasks.create(self._start_host_logged(), name="start_host")
            remaining = deadline - loop.time()
            if remaining <= 0:
                detail = f": {self.last_init_error}" if self.last_init_error else ""
                raise HostStartError(f"no job host became ready in time{detail}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def _starting_or_idle(self) -> int:
        return sum(1 for h in self._hosts if h.alive and not h.exiting and not h.used)

    async def _replenish(self) -> None:
        """Keep the warm hosts at strength (ASYNC: all hosts; others: idle ones)."""
        while not self._closing:
            if self._kind is JobExecutorType.ASYNC:
                missing = self._num - sum(1 for h in self._hosts if h.alive and not h.exiting)
            else:
                missing = self._num - self._starting_or_idle()
            if missing <= 0:
                return
            try:
                await self._start_host()
            except HostStartError:
                await asyncio.sleep(RESPAWN_DELAY)

    async def _start_host_logged(self) -> None:
        with contextlib.suppress(HostStartError):
            await self._start_host()

    # ------------------------------------------------------------------ hosts

    async def _start_host(self) -> Host:
        host = Host(id=f"host-{next(self._ids)}", kind=self._kind)
        self._hosts.append(host)
        try:
            await self._spawn(host)
            assert host.channel is not None
            try:
                msg = await asyncio.wait_for(host.channel.recv(), self._initialize_timeout)
            except asyncio.TimeoutError:
                raise HostStartError(
                    f"job host did not get ready within {self._initialize_timeout} s"
                ) from None
            except ChannelClosed:
                raise HostStartError("job host exited during initialization") from None
            if isinstance(msg, HostInitFailed):
                raise HostStartError(f"setup_fnc failed in the job host:\n{msg.error}")
            if not isinstance(msg, HostReady):
                raise HostStartError(f"unexpected first message from a job host: {msg!r}")
        except BaseException as e:
            self.last_init_error = str(e)
            logger.error("job host %s failed to start: %s", host.id, e)
            host.exiting = True
            host.kill("failed to start")
            await self._reap(host)
            raise
        host.pid = msg.pid
        host.ready = True
        host.last_pong = now()
        self.last_init_error = ""
        host.tasks.create(self._read(host), name=f"{host.id}_reader")
        host.tasks.create(self._ping(host), name=f"{host.id}_ping")
        if host.process is not None and (self._memory_warn_mb > 0 or self._memory_limit_mb > 0):
            host.tasks.create(self._watch_memory(host), name=f"{host.id}_memory")
        self._notify()
        return host

    async def _spawn(self, host: Host) -> None:
        parent, child = socket.socketpair()
        try:
            if self._kind is JobExecutorType.THREAD:
                host.thread = threading.Thread(
                    target=thread_main, args=(child, self._config), name=host.id, daemon=True
                )
                host.thread.start()
            else:
                ctx: Any = multiprocessing.get_context(self._mp_method)
                if isinstance(ctx, multiprocessing.context.ForkServerContext):
                    # also what a process's first job would import on its start path
                    # (decoding the job, AgentSession.start()'s console hook): ~60 ms
                    ctx.set_forkserver_preload(
                        [
                            "voxline",
                            "voxline.worker._host",
                            "livekit.protocol.agent",
                            "voxline.console",
                        ]
                    )
                proc = ctx.Process(
                    target=process_main,
                    args=(child, self._config),
                    name=f"voxline-{host.id}",
                )
                host.process = proc
                async with self._start_lock:
                    await _start_process(proc)
                child.close()
            host.channel = await Channel.open(parent)
        except BaseException:
            parent.close()
            child.close()
            raise

    async def _read(self, host: Host) -> None:
        assert host.channel is not None
        try:
            while True:
                msg = await host.channel.recv()
                if isinstance(msg, JobStarted):
                    self._on_job_started(msg.job_id)
                elif isinstance(msg, JobEnded):
                    host.jobs.pop(msg.job_id, None)
                    self._job_hosts.pop(msg.job_id, None)
                    if self._kind is not JobExecutorType.ASYNC:
                        host.exiting = True
                    self._on_job_ended(msg.job_id, msg.failed, msg.error, msg.report)
                    self._notify()
                elif isinstance(msg, Pong):
                    host.last_pong = now()
        except ChannelClosed:
            pass
        self._exit_tasks.create(self._on_host_exit(host), name=f"{host.id}_exit")

    async def _on_host_exit(self, host: Host) -> None:
        code = await self._reap(host)
        orphans = list(host.jobs)
        host.jobs.clear()
        if orphans:
            why = host.kill_reason or f"job process exited unexpectedly (exit code {code})"
            logger.error(
                "job host %s (pid %s) ended with %d job(s): %s",
                host.id,
                host.pid,
                len(orphans),
                why,
            )
            for job_id in orphans:
                self._job_hosts.pop(job_id, None)
                self._on_job_ended(job_id, True, why, None)
        await host.tasks.aclose()
        self._notify()
        if not self._closing and not host.exiting:
            self._tasks.create(self._replenish(), name="replenish_pool")

    async def _reap(self, host: Host) -> int | None:
        """Wait for the host to be gone, free its resources, and return its exit code."""
        code: int | None = None
        if host.process is not None and host.process.pid is not None:
            proc = host.process
            await asyncio.to_thread(proc.join, 5.0)
            if proc.is_alive():
                proc.kill()
                await asyncio.to_thread(proc.join, 5.0)
            code = proc.exitcode
            with contextlib.suppress(ValueError):
                proc.close()
        elif host.thread is not None:
            await asyncio.to_thread(host.thread.join, 5.0)
        if host.channel is not None:
            await host.channel.aclose()
        host.exited.set()
        if host in self._hosts:
            self._hosts.remove(host)
        return code

    async def _ping(self, host: Host) -> None:
        assert host.channel is not None
        for seq in itertools.count():
            await asyncio.sleep(PING_INTERVAL)
            if now() - host.last_pong > UNRESPONSIVE_TIMEOUT:
                logger.error(
                    "job host %s (pid %s) unresponsive for %.0f s, killing it",
                    host.id,
                    host.pid,
                    UNRESPONSIVE_TIMEOUT,
                )
                host.kill(f"job process unresponsive for {UNRESPONSIVE_TIMEOUT:.0f} s")
                return
            try:
                await host.channel.send(Ping(seq))
            except ChannelClosed:
                return

    async def _watch_memory(self, host: Host) -> None:
        assert host.pid is not None
        while True:
            rss = rss_bytes(host.pid)
            if rss is not None:
                mb = rss / (1024 * 1024)
                if self._memory_limit_mb > 0 and mb > self._memory_limit_mb:
                    logger.error(
                        "job host %s (pid %s) uses %.0f MB, over the %.0f MB limit: killing it",
                        host.id,
                        host.pid,
                        mb,
                        self._memory_limit_mb,
                    )
                    host.kill(
                        f"memory limit exceeded ({mb:.0f} MB > {self._memory_limit_mb:.0f} MB)"
                    )
                    return
                if self._memory_warn_mb > 0 and mb > self._memory_warn_mb:
                    if not host.memory_warned:
                        host.memory_warned = True
                        logger.warning(
                            "job host %s (pid %s) uses %.0f MB (warning at %.0f MB)",
                            host.id,
                            host.pid,
                            mb,
                            self._memory_warn_mb,
                        )
                else:
                    host.memory_warned = False
            await asyncio.sleep(MEMORY_CHECK_INTERVAL)

    def _notify(self) -> None:
        self._changed.set()


async def _start_process(proc: multiprocessing.process.BaseProcess) -> None:
    """`proc.start()` off the loop, finished even if we are cancelled meanwhile: the
    child's socket must stay open until it was handed over, or the forkserver reads a
    truncated request and dies. A forkserver that died is restarted by the next start."""
    for attempt in range(3):
        start = asyncio.ensure_future(asyncio.to_thread(proc.start))
        try:
            await asyncio.shield(start)
            return
        except asyncio.CancelledError:
            await asyncio.wait({start})
            raise
        except (ConnectionRefusedError, FileNotFoundError):
            if attempt == 2:
                raise
            logger.warning("the forkserver was not reachable; retrying")
            await asyncio.sleep(0.1)


def check_picklable(config: HostConfig) -> None:
    """Process hosts receive the entrypoint and hooks by pickling: fail early, and say
    what to do, when one is a closure or lambda."""
    for name in ("entrypoint", "setup_fnc", "on_session_end", "room_connector"):
        value = getattr(config, name)
        if value is None:
            continue
        try:
            pickle.dumps(value)
        except Exception as e:
            raise TypeError(
                f"{name} {value!r} cannot be sent to a job process ({e}). With "
                "job_executor_type ASYNC or PROCESS it must be a module-level function; "
                "use JobExecutorType.THREAD for closures."
            ) from e


__all__ = ["Host", "HostStartError", "JobPool", "check_picklable", "rss_bytes"]
