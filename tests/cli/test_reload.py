"""`dev`'s hot reload: the child is restarted when a watched Python file changes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from voxline.cli import run_with_reload

# Each start appends the child's pid to a log, then idles until it is terminated.
CHILD = (
    "import os, sys, time\n"
    "with open(sys.argv[1], 'a') as f:\n"
    "    f.write(f'{os.getpid()} {os.environ.get(\"MARK\")}\\n')\n"
    "time.sleep(60)\n"
)


def _read_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


async def _wait_for_lines(log: Path, count: int) -> list[str]:
    while True:
        lines = _read_lines(log)
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_python_file_change_restarts_the_child(tmp_path: Path) -> None:
    watched = tmp_path / "agent"
    watched.mkdir()
    (watched / "agent.py").write_text("x = 1\n")
    log = tmp_path / "starts.log"
    stop = asyncio.Event()
    changes: list[set[tuple[object, str]]] = []
    reloader = asyncio.create_task(
        run_with_reload(
            [sys.executable, "-c", CHILD, str(log)],
            [watched],
            env={**os.environ, "MARK": "child"},
            stop_event=stop,
            debounce_ms=50,
            grace=2.0,
            on_restart=changes.append,
        )
    )
    try:
        [first] = await asyncio.wait_for(_wait_for_lines(log, 1), 15)
        assert first.endswith(" child")  # the environment reaches the child
        await asyncio.sleep(0.3)  # let the watcher settle before changing anything
        (watched / "notes.txt").write_text("not python: ignored")
        (watched / "agent.py").write_text("x = 2\n")
        lines = await asyncio.wait_for(_wait_for_lines(log, 2), 15)
        assert len(lines) == 2
        assert any(path.endswith("agent.py") for _, path in changes[0])
        pids = [int(line.split()[0]) for line in lines]
        assert pids[0] != pids[1] and not _alive(pids[0])  # the old child was stopped
        assert _alive(pids[1])
    finally:
        stop.set()
        restarts = await asyncio.wait_for(reloader, 15)
    assert restarts == 1
    assert not _alive(pids[1])  # stopping the reloader stops the child
