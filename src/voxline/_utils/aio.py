"""Small asyncio building blocks: a closable channel and structured task cleanup."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ChanClosed(Exception):
    pass


class Chan(Generic[T]):
    """An unbounded async channel with close(): producers never block the audio path."""

    __slots__ = ("_closed", "_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def send_nowait(self, item: T) -> None:
        if self._closed:
            raise ChanClosed("send on a closed channel")
        self._items.append(item)
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def ready(self) -> bool:
        """True when recv() would return or raise without waiting."""
        return bool(self._items) or self._closed

    def recv_nowait(self) -> T:
        if self._items:
            return self._items.popleft()
        raise ChanClosed("channel closed") if self._closed else RuntimeError("channel empty")

    async def recv(self) -> T:
        while not self._items:
            if self._closed:
                raise ChanClosed("channel closed")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while True:
            try:
                yield await self.recv()
            except ChanClosed:
                return


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel tasks and wait until they really stopped, without raising their errors."""
    pending = [t for t in tasks if t is not None and not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # mark retrieved


class TaskSet:
    """Owns background tasks so none outlives its owner (STYLE: cleanup is structured)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def create(self, coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        return set(self._tasks)

    async def aclose(self) -> None:
        await cancel_and_wait(*self._tasks)


def now() -> float:
    """The loop clock, so durations follow the virtual clock in tests."""
    with contextlib.suppress(RuntimeError):
        return asyncio.get_running_loop().time()
    import time

    return time.monotonic()


def short_id(prefix: str) -> str:
    import uuid

    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class SegmentEnd:
    """Marks the end of a segment in a model stream's input (see `flush()`)."""


In_T = TypeVar("In_T")
Out_T = TypeVar("Out_T")


class PushStream(Generic[In_T, Out_T]):
    """Input pushed in, output iterated out, one background task in between: the shape every
    streaming model (VAD, STT, TTS) shares. Subclasses implement `_run(input)` and call
    `_emit(item)`; a failure of `_run` is raised to whoever iterates the output."""

    def __init__(self) -> None:
        self._input: Chan[In_T] = Chan()
        self._output: Chan[Out_T] = Chan()
        self._task: asyncio.Task[None] | None = None

    def _ensure_started(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._main())

    async def _main(self) -> None:
        try:
            await self._run(self._input)
        finally:
            self._output.close()

    async def _run(self, items: Chan[In_T]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _run(input)")

    def _emit(self, item: Out_T) -> None:
        self._output.send_nowait(item)

    def _push(self, item: In_T) -> None:
        self._ensure_started()
        if not self._input.closed:
            self._input.send_nowait(item)

    def end_input(self) -> None:
        self._ensure_started()
        self._input.close()

    async def aclose(self) -> None:
        self._input.close()
        await cancel_and_wait(self._task)
        self._output.close()

    def __aiter__(self) -> AsyncIterator[Out_T]:
        self._ensure_started()
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Out_T]:
        async for item in self._output:
            yield item
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            error = task.exception()
            if error is not None:
                raise error
