"""A virtual-clock asyncio event loop for fast, deterministic tests.

A realtime voice agent is mostly *waiting*: for the next 20 ms audio frame, for an
end-of-turn silence timeout, for a tool call's deadline. Testing a 30-second
conversation against the real clock would take 30 seconds and its interleavings would
depend on machine load. :class:`VirtualTimeEventLoop` makes ``loop.time()`` a virtual
clock that starts at ``0.0`` and jumps straight to the next timer whenever the loop has
nothing else to do, so the same conversation runs in milliseconds and every timer fires
in the same order at exactly the same ``loop.time()`` on every run.

How it works: asyncio's ``BaseEventLoop._run_once`` (CPython 3.10-3.13) computes how long
it may block until the earliest timer is due, calls ``self._selector.select(timeout)``
and afterwards treats every timer with ``when < self.time() + self._clock_resolution`` as
due. This loop wraps its selector so that a positive timeout first polls real I/O with
timeout 0; if nothing is ready it advances the virtual clock by ``timeout`` (snapped to
the earliest timer's deadline) and reports no events, which makes that timer due in the
same iteration. With no timers at all (``timeout is None``) it does a real blocking
select, so sockets and ``call_soon_threadsafe`` from other threads keep working.

What is *not* virtual, and the trade-offs that follow:

* ``time.time()``/``time.monotonic()``/``time.perf_counter()`` are not patched. The
  framework takes all its timing from ``loop.time()``; code that reads the wall clock
  sees real time.
* Work in other threads takes real time while the virtual clock can jump ahead. For
  futures from ``loop.run_in_executor`` (and so ``asyncio.to_thread``), the loop waits
  for real -- it blocks in ``select`` and is woken the moment the thread hands back its
  result -- instead of advancing the clock, for up to ``executor_grace`` real seconds
  per job counted from submission. Typical executor work (resampling a frame, running
  a small model) therefore takes zero virtual time, whatever the machine load, which is
  what keeps tests deterministic. A job that outlives its grace (say a thread blocked
  on a queue that a coroutine fills after a virtual ``sleep``) stops holding the clock,
  so such a design costs at most ``executor_grace`` real seconds per job instead of
  deadlocking. A smaller grace makes such blocking jobs cheaper but lets slow CPU work
  race the virtual clock; a larger one is more deterministic under load but slower for
  blocking jobs.
* Real I/O whose peer answers later (a subprocess, a remote socket, a thread calling
  ``call_soon_threadsafe`` directly) races the clock: if a timer is pending and the
  answer is not there at the instant the loop polls, the clock jumps to the timer. In-
  process loopback I/O is not affected because the data is readable as soon as it is
  written. Wrap such awaits in :meth:`VirtualTimeEventLoop.pause_clock`.
* Callbacks take no virtual time, so debug mode's slow-callback warnings never fire.
* A test whose tasks all wait on something that never comes, with no timer pending,
  blocks in the real ``select`` forever, exactly as under ``asyncio.run``.

Timers due at the same instant run in asyncio's heap order: the same on every run, but
not necessarily the order they were scheduled in, so tests should not rely on ties.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import selectors
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar

from typing_extensions import TypeVarTuple, Unpack

__all__ = [
    "DEFAULT_EXECUTOR_GRACE",
    "VirtualTimeEventLoop",
    "new_event_loop",
    "run",
]

T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")

DEFAULT_EXECUTOR_GRACE = 0.25
"""Real seconds an executor job may hold the virtual clock, counted from submission.

Long enough that CPU-bound work of a few milliseconds still finishes in zero virtual
time on a loaded CI machine; short enough that a thread blocked on something that only
happens later in virtual time costs a quarter second, not a hang.
"""


class _VirtualTimeSelector(selectors.BaseSelector):
    """Delegates to a real selector, but turns idle waits into virtual clock jumps.

    Registration goes straight to the real selector so transports, the self-pipe and
    signal handling behave exactly as on a stock ``SelectorEventLoop``.
    """

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeEventLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # None: no timers, nothing to jump to -- only real events (I/O, another thread's
        # call_soon_threadsafe) can make progress, so block for them for real.
        # <= 0: the loop has ready callbacks or is stopping; a plain poll.
        if timeout is None or timeout <= 0:
            return self._inner.select(timeout)
        # Real events that are already there win over any clock jump.
        events = self._inner.select(0)
        if events:
            return events
        # Give work in other threads that we were told about a chance to finish first.
        # A thread hands its result back through call_soon_threadsafe, which writes to
        # the loop's self-pipe and wakes this select immediately.
        hold = self._loop._real_hold_seconds()
        if hold > 0:
            events = self._inner.select(None if math.isinf(hold) else hold)
            if events:
                return events
        self._loop._advance(timeout)
        return []


class VirtualTimeEventLoop(asyncio.SelectorEventLoop):
    """A ``SelectorEventLoop`` whose ``time()`` is a virtual clock starting at 0.0.

    The clock only moves when the loop would otherwise sleep until a timer, and then it
    moves exactly to that timer's deadline. See the module docstring for what stays on
    real time and why.

    ``executor_grace`` is how many real seconds a ``run_in_executor`` job may keep the
    clock from advancing, counted from submission; ``0`` turns that off, ``math.inf``
    makes every executor job hold the clock until it finishes.
    """

    def __init__(self, *, executor_grace: float = DEFAULT_EXECUTOR_GRACE) -> None:
        if not executor_grace >= 0:  # also rejects NaN
            raise ValueError(f"executor_grace must be >= 0, got {executor_grace!r}")
        self._virtual_now = 0.0
        self._executor_grace = executor_grace
        # Things happening in other threads that hold the clock, each with the real
        # (perf_counter) deadline until which it may do so.
        self._real_holds: dict[object, float] = {}
        super().__init__(_VirtualTimeSelector(selectors.DefaultSelector(), self))
        self._base_clock_resolution: float = self._clock_resolution

    def time(self) -> float:
        """Return the virtual time in seconds; it starts at 0.0 and never goes back."""
        return self._virtual_now

    def run_in_executor(
        self,
        executor: Executor | None,
        func: Callable[[Unpack[_Ts]], T],
        *args: Unpack[_Ts],
    ) -> asyncio.Future[T]:
        """Run ``func`` in ``executor`` and keep the clock still while it runs (for a while).

        Without this, an idle loop would jump the clock to the next timer while the
        thread is still working, so whether e.g. a ``wait_for`` around the job times out
        would depend on how fast the machine is.
        """
        future = super().run_in_executor(executor, func, *args)
        if self._executor_grace > 0 and not future.done():
            self._real_holds[future] = time.perf_counter() + self._executor_grace
            future.add_done_callback(self._release_hold)
        return future

    @contextlib.contextmanager
    def pause_clock(self, real_timeout: float | None = 10.0) -> Iterator[None]:
        """Keep the virtual clock still while the block awaits something real.

        For awaits on things the loop cannot see coming: a subprocess, a remote peer, a
        thread that calls ``call_soon_threadsafe`` itself. Inside the block an idle loop
        waits for real events instead of jumping to the next timer, for up to
        ``real_timeout`` real seconds (``None``: no limit) from entering the block; after
        that the clock moves on as usual, so a peer that never answers still lets
        virtual timeouts fire instead of hanging the test.

        Example::

            with loop.pause_clock(real_timeout=5.0):
                out, _ = await asyncio.wait_for(proc.communicate(), timeout=2.0)
        """
        token = object()
        self._real_holds[token] = (
            math.inf if real_timeout is None else time.perf_counter() + real_timeout
        )
        try:
            yield
        finally:
            self._real_holds.pop(token, None)

    if sys.version_info >= (3, 12):

        async def shutdown_default_executor(self, timeout: float | None = None) -> None:
            """Join the default executor's threads, holding the clock while they finish.

            ``asyncio.Runner`` passes a 300 s timeout. CPython 3.13 waits for it with
            ``asyncio.timeout()``, i.e. on ``loop.time()``: on a virtual clock it would
            expire at once, warn and abandon the threads. Holding the clock makes it a
            real 300 s again (3.12.1 joins the thread with a real timeout anyway).
            """
            with self.pause_clock(real_timeout=timeout):
                await super().shutdown_default_executor(timeout)

    else:

        async def shutdown_default_executor(self) -> None:
            """Join the default executor's threads, holding the clock while they finish."""
            with self.pause_clock(real_timeout=None):
                await super().shutdown_default_executor()

    def _release_hold(self, token: object) -> None:
        self._real_holds.pop(token, None)

    def _real_hold_seconds(self) -> float:
        """Real seconds to wait for other threads before advancing; 0 if none pending."""
        if not self._real_holds:
            return 0.0
        return max(0.0, max(self._real_holds.values()) - time.perf_counter())

    def _advance(self, timeout: float) -> None:
        """Move the clock forward by ``timeout``, landing exactly on the next deadline.

        ``_run_once`` computed ``timeout = when - now`` for the earliest timer, and
        ``now + (when - now)`` can be off from ``when`` by a rounding error. Snapping to
        ``when`` makes ``loop.time()`` inside a ``call_at(t, ...)`` callback equal ``t``
        exactly. ``_scheduled`` is the loop's timer heap (the same attribute on CPython
        3.10-3.13); without it we just add, which is still within the loop's clock
        resolution of the deadline.

        ``_run_once`` then treats a timer as due if ``when < time() + _clock_resolution``.
        The monotonic clock's resolution (1 ns) is below one ulp of the clock once it
        passes about 2**24 s (194 days), so ``time() + resolution == time()`` and a timer
        due exactly now would never run: a real clock moves on and hides that, a virtual
        one would spin forever. Keeping the resolution at least one ulp of the current
        time keeps week- and year-long virtual sleeps working.
        """
        target = self._virtual_now + timeout
        scheduled: list[asyncio.TimerHandle] | None = getattr(self, "_scheduled", None)
        if scheduled:
            when = scheduled[0].when()
            if abs(when - target) <= 4 * math.ulp(max(abs(when), abs(target))):
                target = when
        self._virtual_now = max(self._virtual_now, target)
        self._clock_resolution = max(self._base_clock_resolution, math.ulp(self._virtual_now))


def new_event_loop(*, executor_grace: float = DEFAULT_EXECUTOR_GRACE) -> VirtualTimeEventLoop:
    """Create a fresh :class:`VirtualTimeEventLoop` (for ``asyncio.Runner(loop_factory=...)``)."""
    return VirtualTimeEventLoop(executor_grace=executor_grace)


def run(
    main: Coroutine[Any, Any, T],
    *,
    debug: bool | None = None,
    check_leaks: bool = False,
    executor_grace: float = DEFAULT_EXECUTOR_GRACE,
) -> T:
    """Run ``main`` to completion on a fresh virtual-clock loop and return its result.

    Like ``asyncio.run``: it refuses to run inside a running loop, and afterwards it
    cancels (and awaits) every task still pending, finalizes async generators, joins
    the default executor and closes the loop. ``debug=None`` keeps asyncio's default
    (``PYTHONASYNCIODEBUG``/``-X dev``).

    With ``check_leaks=True`` it raises ``AssertionError`` naming every task still
    pending when ``main`` returns. A task that was cancelled but not awaited counts:
    the caller cannot know its cleanup has run, which is exactly the kind of bug
    interruption handling in a voice agent tends to have. Leaks are not checked when
    ``main`` raises; its exception is the more useful one.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        if asyncio.iscoroutine(main):
            main.close()  # don't also warn "never awaited"
        raise RuntimeError("voxline.testing.run() cannot be called from a running event loop")
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")

    loop = new_event_loop(executor_grace=executor_grace)
    try:
        if debug is not None:
            loop.set_debug(debug)
        task = loop.create_task(main)
        result = loop.run_until_complete(task)
        if check_leaks:
            _raise_on_leaked_tasks(loop, main_task=task)
        return result
    finally:
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _raise_on_leaked_tasks(loop: asyncio.AbstractEventLoop, main_task: asyncio.Task[Any]) -> None:
    """Raise ``AssertionError`` listing the tasks (other than main) still pending."""
    leaked = sorted(
        (t for t in asyncio.all_tasks(loop) if t is not main_task and not t.done()),
        key=lambda t: t.get_name(),
    )
    if not leaked:
        return
    lines = "\n".join(f"  - {t.get_name()}: {t!r}" for t in leaked)
    raise AssertionError(
        f"{len(leaked)} task(s) still pending when the main coroutine returned "
        f"(cancel them and await them before returning):\n{lines}"
    )


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await leftover tasks, reporting their errors (as ``asyncio.run`` does)."""
    to_cancel = asyncio.all_tasks(loop)
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    for task in to_cancel:
        if task.cancelled():
            continue
        exc = task.exception()
        if exc is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during voxline.testing.run() shutdown",
                    "exception": exc,
                    "task": task,
                }
            )
