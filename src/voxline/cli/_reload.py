"""Hot reload for `dev`: run the agent in a child process and restart it on file changes.

A child process (rather than re-importing modules in place) is the only reload that is
always correct: module-level state, registered plugins and running jobs all start fresh.
The child gets `VOXLINE_DEV_CHILD=1` so its own `dev` command runs the server instead of
starting another watcher. It runs in its own process group so a restart also ends the job
processes it spawned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CHILD_ENV", "child_command", "run_with_reload"]

logger = logging.getLogger("voxline.cli")

CHILD_ENV = "VOXLINE_DEV_CHILD"


def child_command() -> list[str]:
    """This process's own command line (interpreter options included), to start a child."""
    return [sys.executable, *sys.orig_argv[1:]]


async def _spawn(cmd: Sequence[str], env: Mapping[str, str] | None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *cmd,
        env=dict(env) if env is not None else None,
        start_new_session=os.name == "posix",
    )


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)


async def _terminate(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps the child."""
    if proc.returncode is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except asyncio.TimeoutError:
            _signal_group(proc, signal.SIGKILL)
            await proc.wait()


async def run_with_reload(
    cmd: Sequence[str],
    paths: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    stop_event: asyncio.Event | None = None,
    watch_filter: Callable[[Any, str], bool] | None = None,
    debounce_ms: int = 600,
    grace: float = 5.0,
    force_polling: bool | None = None,
    on_restart: Callable[[set[tuple[Any, str]]], None] | None = None,
) -> int:
    """Run `cmd`, restart it whenever a watched file changes, until `stop_event` is set (or
    the caller is cancelled). A child that exits by itself (e.g. a syntax error) is started
    again at the next change. Returns the number of restarts.

    `watch_filter` defaults to Python files (`watchfiles.PythonFilter`).
    """
    import watchfiles

    stop = stop_event if stop_event is not None else asyncio.Event()
    proc = await _spawn(cmd, env)
    restarts = 0
    try:
        async for changes in watchfiles.awatch(
            *paths,
            watch_filter=watch_filter if watch_filter is not None else watchfiles.PythonFilter(),
            debounce=debounce_ms,
            stop_event=stop,
            force_polling=force_polling,
            poll_delay_ms=100,
            rust_timeout=500,
        ):
            names = sorted({Path(p).name for _, p in changes})
            logger.info("%s changed, restarting", ", ".join(names))
            await _terminate(proc, grace)
            proc = await _spawn(cmd, env)
            restarts += 1
            if on_restart is not None:
                on_restart(changes)
    finally:
        stop.set()
        await asyncio.shield(_terminate(proc, grace))
    return restarts
