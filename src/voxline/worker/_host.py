"""A job host: one event loop (in a process or a thread) that runs `setup_fnc` once and
then the jobs the server sends it, many at a time in ASYNC mode, one in PROCESS/THREAD.

The host obeys its channel: when the server side goes away (channel end-of-file) it
shuts its jobs down and exits, so no job process outlives its server.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import socket
import traceback
from typing import Any

from ._ipc import (
    Channel,
    ChannelClosed,
    HostInitFailed,
    HostReady,
    Ping,
    Pong,
    ShutdownHost,
    StartJob,
    TerminateJob,
)
from ._runner import HostConfig, JobRunner
from .job import JobProcess
from .types import JobExecutorType

logger = logging.getLogger("voxline.worker")


def process_main(sock: socket.socket, config: HostConfig) -> None:
    """Entry of a host process. Signals are the server's business: it tells the host
    what to do over the channel, so a Ctrl+C reaching the whole process group does not
    kill jobs behind the server's back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s [job host] %(message)s"
    )
    asyncio.run(JobHost(sock, config).run())


def thread_main(sock: socket.socket, config: HostConfig) -> None:
    """Entry of a host thread: a loop of its own, so a job cannot block the server's."""
    asyncio.run(JobHost(sock, config).run())


class JobHost:
    def __init__(self, sock: socket.socket, config: HostConfig) -> None:
        self._sock = sock
        self._config = config
        self._runners: dict[str, JobRunner] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ran_a_job = False

    async def run(self) -> None:
        chan = await Channel.open(self._sock)
        try:
            await self._serve(chan)
        except ChannelClosed:
            pass  # the server is gone: nobody is left to tell
        finally:
            await chan.aclose()

    async def _serve(self, chan: Channel) -> None:
        pid = os.getpid()
        proc = JobProcess(executor_type=self._config.executor_type, pid=pid)
        if self._config.setup_fnc is not None:
            try:
                result = self._config.setup_fnc(proc)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("setup_fnc failed")
                with contextlib.suppress(ChannelClosed):
                    await chan.send(HostInitFailed(traceback.format_exc()))
                return
        await chan.send(HostReady(pid))

        # one receive in flight at a time: cancelling a read halfway through a message
        # would desynchronise the stream
        recv: asyncio.Task[object] | None = None
        reason = "worker process gone"
        try:
            while True:
                if self._config.single_use and self._ran_a_job and not self._tasks:
                    reason = "job done"
                    break
                if recv is None:
                    recv = asyncio.ensure_future(chan.recv())
                waits: set[asyncio.Future[Any]] = {recv, *self._tasks}
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if not recv.done():
                    continue
                done, recv = recv, None
                try:
                    msg = done.result()
                    if isinstance(msg, ShutdownHost):
                        reason = msg.reason
                        break
                    await self._handle(msg, proc, chan)
                except ChannelClosed:
                    break
        finally:
            if recv is not None and not recv.done():
                recv.cancel()
                await asyncio.wait({recv})
            for runner in self._runners.values():
                runner.terminate(reason)
            if self._tasks:
                await asyncio.wait(self._tasks)

    async def _handle(self, msg: object, proc: JobProcess, chan: Channel) -> None:
        if isinstance(msg, StartJob):
            runner = JobRunner(msg.info, proc, self._config, chan.send)
            self._runners[runner.job_id] = runner
            self._ran_a_job = True
            task = asyncio.get_running_loop().create_task(runner.run(), name=runner.job_id)
            self._tasks.add(task)

            def done(t: asyncio.Task[None], job_id: str = runner.job_id) -> None:
                self._tasks.discard(t)
                self._runners.pop(job_id, None)

            task.add_done_callback(done)
        elif isinstance(msg, TerminateJob):
            found = self._runners.get(msg.job_id)
            if found is not None:
                found.terminate(msg.reason)
        elif isinstance(msg, Ping):
            await chan.send(Pong(msg.seq))
        else:
            logger.warning("job host got an unknown message %r", msg)


__all__ = ["HostConfig", "JobExecutorType", "process_main", "thread_main"]
