"""SpeechHandle: one agent turn (a say or a reply, possibly over several tool steps), and the
priority queue that decides which speech may play. Only the authorized speech plays."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

from .._utils.aio import short_id
from ..llm.chat_context import ChatItem


class SpeechHandle:
    SPEECH_PRIORITY_LOW = 0
    SPEECH_PRIORITY_NORMAL = 5
    SPEECH_PRIORITY_HIGH = 10

    def __init__(
        self,
        *,
        allow_interruptions: bool = True,
        priority: int = SPEECH_PRIORITY_NORMAL,
        source: str = "generate_reply",
    ) -> None:
        loop = asyncio.get_running_loop()
        self._id = short_id("speech")
        self._priority = priority
        self._allow_interruptions = allow_interruptions
        self._source = source
        self._interrupt_fut: asyncio.Future[None] = loop.create_future()
        self._done_fut: asyncio.Future[None] = loop.create_future()
        self._authorized = asyncio.Event()
        # set when the speech gives the floor back: its step played and tools may run long
        self._released = asyncio.Event()
        self._scheduled = False
        self._num_steps = 1
        self._chat_items: list[ChatItem] = []
        self._exception: BaseException | None = None
        self._callbacks: dict[Callable[[SpeechHandle], None], Callable[[Any], None]] = {}
        self._playing = False
        self._playback_started_at: float | None = None
        self._transcript_sync: Any = None
        self._step_played = asyncio.Event()
        self._in_tool: set[asyncio.Task[Any]] = set()

    # --------------------------------------------------------------- public

    @property
    def id(self) -> str:
        return self._id

    @property
    def priority(self) -> int:
        return self._priority

    @property
    def source(self) -> str:
        return self._source

    @property
    def scheduled(self) -> bool:
        return self._scheduled

    @property
    def num_steps(self) -> int:
        return self._num_steps

    @property
    def chat_items(self) -> list[ChatItem]:
        return self._chat_items

    @property
    def interrupted(self) -> bool:
        return self._interrupt_fut.done()

    @property
    def allow_interruptions(self) -> bool:
        return self._allow_interruptions

    @allow_interruptions.setter
    def allow_interruptions(self, value: bool) -> None:
        if self.interrupted and not value:
            raise RuntimeError("cannot disallow interruptions: the speech was already interrupted")
        self._allow_interruptions = value

    def done(self) -> bool:
        return self._done_fut.done()

    def exception(self) -> BaseException | None:
        return self._exception

    def interrupt(self, *, force: bool = False) -> SpeechHandle:
        """Stop this speech. Raises if it is protected, unless `force`."""
        if not force and not self._allow_interruptions:
            raise RuntimeError(
                f"speech {self._id} does not allow interruptions (use force=True to stop it anyway)"
            )
        if not self._interrupt_fut.done():
            self._interrupt_fut.set_result(None)
        return self

    async def wait_for_playout(self) -> None:
        """Wait until the speech finished playing, was interrupted, or failed. Never raises."""
        current = asyncio.current_task()
        if current is not None and current in self._in_tool:
            raise RuntimeError(
                "cannot wait for the playout of a speech from one of its own tools "
                "(it would wait for itself); use RunContext.wait_for_playout()"
            )
        await asyncio.shield(self._done_fut)

    def __await__(self) -> Any:
        return self.wait_for_playout().__await__()

    def add_done_callback(self, callback: Callable[[SpeechHandle], None]) -> None:
        def _cb(_: Any) -> None:
            callback(self)

        self._callbacks[callback] = _cb
        self._done_fut.add_done_callback(_cb)

    def remove_done_callback(self, callback: Callable[[SpeechHandle], None]) -> None:
        cb = self._callbacks.pop(callback, None)
        if cb is not None:
            self._done_fut.remove_done_callback(cb)

    async def wait_if_not_interrupted(self, aws: list[asyncio.Future[Any]]) -> None:
        await asyncio.wait([*aws, self._interrupt_fut], return_when=asyncio.FIRST_COMPLETED)

    def __repr__(self) -> str:
        return (
            f"SpeechHandle(id={self._id!r}, priority={self._priority}, "
            f"interrupted={self.interrupted}, done={self.done()})"
        )

    # --------------------------------------------------------------- internal

    @property
    def authorized(self) -> bool:
        return self._authorized.is_set()

    async def wait_authorized(self) -> None:
        await self._authorized.wait()

    def _authorize(self) -> None:
        self._released.clear()
        self._authorized.set()

    def _release(self) -> None:
        """Give the floor back to the scheduler; a later step must be authorized again."""
        self._authorized.clear()
        self._released.set()

    async def _wait_released(self) -> None:
        await self._released.wait()

    def _mark_scheduled(self) -> None:
        self._scheduled = True

    def _mark_done(self, exception: BaseException | None = None) -> None:
        if exception is not None and self._exception is None:
            self._exception = exception
        if not self._done_fut.done():
            self._done_fut.set_result(None)
        self._released.set()

    def _next_step(self) -> None:
        self._num_steps += 1
        self._playback_started_at = None
        self._step_played = asyncio.Event()

    async def _playout_of_step(self) -> None:
        await self._step_played.wait()


class SpeechQueue:
    """Highest priority first, then first come first served."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, SpeechHandle]] = []
        self._counter = itertools.count()

    def push(self, handle: SpeechHandle) -> None:
        heapq.heappush(self._heap, (-handle.priority, next(self._counter), handle))

    def pop(self) -> SpeechHandle | None:
        while self._heap:
            _, _, handle = heapq.heappop(self._heap)
            if not handle.done():
                return handle
        return None

    def __len__(self) -> int:
        return sum(1 for _, _, h in self._heap if not h.done())

    def in_playout_order(self) -> list[SpeechHandle]:
        return [h for _, _, h in sorted(self._heap) if not h.done()]

    def clear(self) -> list[SpeechHandle]:
        handles = self.in_playout_order()
        self._heap.clear()
        return handles
