"""Which speech may play: a priority queue and one authorized speech at a time.

A speech gives the floor back when its step has played (its tools may run long, and may
themselves wait for other speech); a later step queues again like any other speech.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .._utils.aio import now
from .speech import SpeechHandle, SpeechQueue


class SpeechScheduler:
    def __init__(
        self,
        *,
        min_delay: Callable[[], float],
        on_change: Callable[[], None],
        on_released: Callable[[], None],
    ) -> None:
        self._queue = SpeechQueue()
        self._min_delay = min_delay
        self._on_change = on_change
        self._on_released = on_released
        self.current: SpeechHandle | None = None
        self.tool_phase: set[SpeechHandle] = set()
        """Speeches whose tools are running: not playing, still interruptible."""
        self._wake = asyncio.Event()
        self._last_done_at: float | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, handle: SpeechHandle) -> None:
        self._queue.push(handle)
        self.tool_phase.discard(handle)
        self._wake.set()

    def pending(self) -> list[SpeechHandle]:
        """The current speech and the queued ones, in playout order."""
        return [h for h in [self.current, *self._queue.in_playout_order()] if h is not None]

    def clear(self) -> list[SpeechHandle]:
        return [h for h in [self.current, *self._queue.clear()] if h is not None]

    def interrupt_targets(self, *, force: bool) -> list[SpeechHandle]:
        """What `interrupt()` stops; a queued protected speech shields the ones behind it."""
        targets: list[SpeechHandle] = [] if self.current is None else [self.current]
        targets.extend(
            h for h in self.tool_phase if not h.done() and (force or h.allow_interruptions)
        )
        for handle in self._queue.in_playout_order():
            if not handle.allow_interruptions and not force:
                break
            targets.append(handle)
        return targets

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (handle := self._queue.pop()) is not None:
                if handle.interrupted:
                    continue
                delay = self._min_delay()
                if delay > 0 and self._last_done_at is not None:
                    wait = self._last_done_at + delay - now()
                    if wait > 0:
                        await asyncio.sleep(wait)
                if handle.interrupted or handle.done():
                    continue
                self.current = handle
                handle._authorize()
                self._on_change()
                await handle._wait_released()
                self.current = None
                self._last_done_at = now()
                self._on_released()
