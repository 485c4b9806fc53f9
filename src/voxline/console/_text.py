"""Text mode: typed lines in, the agent's transcript out (`voxline console --text`).

Stdin is read on a daemon thread, because a blocking `readline()` has no portable async form
and must never block the event loop that plays audio; a daemon thread also cannot keep the
process alive after the console quits.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any, TextIO

from .._exceptions import SessionClosedError
from ..voice.io import TextOutput

if TYPE_CHECKING:
    from ..voice.session import AgentSession

__all__ = ["ConsoleTextOutput", "TextConsole", "stdin_lines"]

logger = logging.getLogger("voxline.console")


async def stdin_lines(stream: TextIO | None = None) -> AsyncIterator[str]:
    """Lines typed on `stream` (default: `sys.stdin` when iteration starts), without their
    newline, until end of file."""
    source = stream if stream is not None else sys.stdin
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def post(item: str | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            pass

    def reader() -> None:
        try:
            while True:
                line = source.readline()
                if not line:
                    break
                post(line.rstrip("\r\n"))
        except (OSError, ValueError):  # closed or detached stream: treat as end of input
            pass
        finally:
            post(None)

    threading.Thread(target=reader, name="voxline-stdin", daemon=True).start()
    while True:
        item = await queue.get()
        if item is None:
            return
        yield item


class ConsoleTextOutput(TextOutput):
    """Prints the agent's transcript as it streams: one line per segment, with a prefix."""

    def __init__(self, file: TextIO | None = None, *, prefix: str = "agent: ") -> None:
        self._file = file if file is not None else sys.stdout
        self._prefix = prefix
        self._at_line_start = True
        self.segments: list[str] = []
        self._current: list[str] = []

    async def capture_text(self, text: str) -> None:
        if not text:
            return
        if self._at_line_start:
            self._file.write(self._prefix)
            self._at_line_start = False
        self._file.write(text)
        self._file.flush()
        self._current.append(text)

    def flush(self) -> None:
        if not self._at_line_start:
            self._file.write("\n")
            self._file.flush()
            self._at_line_start = True
        if self._current:
            self.segments.append("".join(self._current))
            self._current = []


class TextConsole:
    """Sends each non-empty line from `lines` to the session as the user's turn
    (`generate_reply(user_input=line)`).

    With `wait_for_reply` (the default) the next line is sent only once the reply to the
    previous one is done, so piped input (`printf 'hi\\nbye\\n' | ...`) gets one answer per
    line instead of each line interrupting the previous answer.
    """

    def __init__(
        self,
        session: AgentSession[Any],
        *,
        lines: AsyncIterable[str] | None = None,
        wait_for_reply: bool = True,
    ) -> None:
        self._session = session
        self._lines = lines
        self._wait_for_reply = wait_for_reply
        self._task: asyncio.Task[None] | None = None
        self.sent: list[str] = []
        self.ended = asyncio.Event()
        """Set when the line source is exhausted (or the session closed)."""

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name="voxline_text_console"
            )
        return self._task

    async def _wait_started(self) -> bool:
        # the session has no "started" event to wait on; start() takes a few loop turns
        while self._session.lifecycle == "initializing":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self._session.lifecycle in ("starting", "running")

    async def run(self) -> None:
        try:
            if not await self._wait_started():
                return
            lines = self._lines if self._lines is not None else stdin_lines()
            async for raw in lines:
                line = raw.strip()
                if not line:
                    continue
                if self._session.lifecycle in ("closing", "closed"):
                    break
                try:
                    handle = self._session.generate_reply(user_input=line)
                except SessionClosedError:
                    break
                self.sent.append(line)
                if self._wait_for_reply:
                    await handle.wait_for_playout()
        finally:
            self.ended.set()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.ended.set()
