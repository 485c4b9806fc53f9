"""Tests for the virtual-clock event loop and its pytest marker."""

from __future__ import annotations

import asyncio
import functools
import math
import sys
import threading
import time
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxline.testing.clock import VirtualTimeEventLoop, new_event_loop, run

pytest_plugins = ["pytester"]

PLUGIN = "voxline.testing.pytest_plugin"


def test_clock_starts_at_zero() -> None:
    loop = new_event_loop()
    try:
        assert isinstance(loop, VirtualTimeEventLoop)
        assert loop.time() == 0.0
    finally:
        loop.close()


def test_an_hour_of_sleep_takes_no_real_time() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        return loop.time()

    started = time.perf_counter()
    assert run(main()) == 3600.0
    assert time.perf_counter() - started < 1.0


def test_interleaved_sleeps_and_timers_fire_in_order_at_exact_times() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        log: list[tuple[str, float]] = []

        async def sleeper(name: str, *delays: float) -> None:
            for delay in delays:
                await asyncio.sleep(delay)
                log.append((name, loop.time()))

        loop.call_at(1.5, lambda: log.append(("call_at 1.5", loop.time())))
        loop.call_later(0.25, lambda: log.append(("call_later 0.25", loop.time())))
        # Non-dyadic deadlines: the clock must land on them exactly, not one ulp off.
        loop.call_at(0.1, lambda: log.append(("call_at 0.1", loop.time())))
        loop.call_at(0.3, lambda: log.append(("call_at 0.3", loop.time())))
        cancelled = loop.call_at(0.5, lambda: log.append(("cancelled", loop.time())))
        cancelled.cancel()
        await asyncio.gather(
            sleeper("a", 1, 1, 1),  # 1, 2, 3
            sleeper("b", 0.5, 2),  # 0.5, 2.5
            sleeper("c", 3.25),
        )
        await asyncio.sleep(86_400 * 3)  # longer than asyncio's 1-day select cap
        log.append(("end", loop.time()))
        return log

    expected = [
        ("call_at 0.1", 0.1),
        ("call_later 0.25", 0.25),
        ("call_at 0.3", 0.3),
        ("b", 0.5),
        ("a", 1.0),
        ("call_at 1.5", 1.5),
        ("a", 2.0),
        ("b", 2.5),
        ("a", 3.0),
        ("c", 3.25),
        ("end", 3.25 + 86_400 * 3),
    ]
    assert run(main()) == expected
    assert run(main()) == expected  # and the same again


def test_call_at_callback_sees_its_own_deadline() -> None:
    # Deadlines that are not sums of the previous clock value and the timeout: the
    # clock must land on each exactly, not an ulp before or after.
    deadlines = [0.1 * i for i in range(1, 50)]
    deadlines += [43.48729035652743, 113.8, 1e6 + 0.1, 1e6 + 0.7, 1e9 / 3]
    seen: list[tuple[float, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def record(when: float) -> None:
            seen.append((when, loop.time()))

        for when in deadlines:
            loop.call_at(when, record, when)
        await asyncio.sleep(deadlines[-1] + 1)

    run(main())
    assert seen == [(w, w) for w in deadlines]


def test_same_program_same_schedule() -> None:
    # Many tasks with colliding deadlines: whatever order asyncio's timer heap gives
    # ties, it must be the same on every run.
    async def main() -> list[tuple[int, float]]:
        loop = asyncio.get_running_loop()
        log: list[tuple[int, float]] = []

        async def worker(i: int) -> None:
            for step in range(5):
                await asyncio.sleep((i * 7 + step * 3) % 4 * 0.5)
                log.append((i, loop.time()))

        await asyncio.gather(*(worker(i) for i in range(20)))
        return log

    first = run(main())
    assert len(first) == 100
    assert [t for _, t in first] == sorted(t for _, t in first)
    for _ in range(3):
        assert run(main()) == first


def test_wait_for_times_out_at_the_virtual_deadline() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), timeout=2.5)
        return loop.time()

    started = time.perf_counter()
    assert run(main()) == 2.5
    assert time.perf_counter() - started < 1.0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+")
def test_asyncio_timeout_uses_the_virtual_clock() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30):  # type: ignore[attr-defined,unused-ignore]
                await asyncio.Event().wait()
        return loop.time()

    assert run(main()) == 30.0


def test_real_tcp_io_works_and_wins_over_pending_timers() -> None:
    async def main() -> tuple[list[bytes], float]:
        loop = asyncio.get_running_loop()
        handler_done: asyncio.Future[None] = loop.create_future()

        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(1024):
                writer.write(data)
                await writer.drain()
            writer.close()
            await writer.wait_closed()
            handler_done.set_result(None)

        # A far-off timer is pending throughout; the round trips must not make the
        # clock jump to it, because loopback data is ready whenever the loop polls.
        far_timer = loop.call_later(1000, lambda: None)
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        echoed = []
        for message in (b"hello\n", b"virtual\n", b"world\n"):
            writer.write(message)
            echoed.append(await reader.readline())
        writer.close()
        await writer.wait_closed()
        await handler_done
        server.close()
        await server.wait_closed()
        far_timer.cancel()
        return echoed, loop.time()

    assert run(main(), check_leaks=True) == ([b"hello\n", b"virtual\n", b"world\n"], 0.0)


def _slow_square(x: int) -> int:
    time.sleep(0.05)  # real time, in the worker thread
    return x * x


def test_executor_work_completes_in_zero_virtual_time() -> None:
    async def main() -> tuple[list[int], float]:
        loop = asyncio.get_running_loop()
        # The wait_for deadline is virtual; the work takes 50 ms of real time. The
        # clock must not jump to the deadline while the threads are still busy.
        results = await asyncio.wait_for(
            asyncio.gather(
                loop.run_in_executor(None, _slow_square, 3),
                asyncio.to_thread(_slow_square, 4),
            ),
            timeout=0.001,
        )
        return list(results), loop.time()

    assert run(main()) == ([9, 16], 0.0)


def test_executor_job_blocked_on_virtual_time_only_holds_clock_for_its_grace() -> None:
    # A thread waits for an event that a coroutine sets after a virtual 5 s sleep. The
    # job holds the clock for its grace (real) and then lets time move on.
    async def main() -> float:
        loop = asyncio.get_running_loop()
        event = threading.Event()
        job = loop.run_in_executor(None, event.wait, 10.0)
        await asyncio.sleep(5)
        event.set()
        assert await job is True
        return loop.time()

    started = time.perf_counter()
    assert run(main(), executor_grace=0.02) == 5.0
    assert time.perf_counter() - started < 1.0


def test_pause_clock_waits_for_real_events_from_other_threads() -> None:
    async def main() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeEventLoop)
        answer: asyncio.Future[str] = loop.create_future()
        timer = threading.Timer(0.05, loop.call_soon_threadsafe, (answer.set_result, "hi"))
        timer.start()
        try:
            with loop.pause_clock(real_timeout=5.0):
                result = await asyncio.wait_for(answer, timeout=1.0)
        finally:
            timer.cancel()
        return result, loop.time()

    assert run(main()) == ("hi", 0.0)


def test_pause_clock_gives_up_after_its_real_timeout() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeEventLoop)
        with loop.pause_clock(real_timeout=0.02), pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(loop.create_future(), timeout=60)
        return loop.time()

    assert run(main()) == 60.0


def test_blocking_select_without_timers_still_sees_other_threads() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[int] = loop.create_future()
        threading.Thread(target=loop.call_soon_threadsafe, args=(answer.set_result, 7)).start()
        return await answer

    assert run(main()) == 7


def test_leaked_task_is_named_and_fails_the_run() -> None:
    cleaned_up = threading.Event()

    async def heartbeat() -> None:
        try:
            beats = 0
            while True:
                await asyncio.sleep(1)
                beats += 1
        finally:
            cleaned_up.set()

    async def main() -> None:
        asyncio.get_running_loop().create_task(heartbeat(), name="leaky-heartbeat")
        await asyncio.sleep(2.5)

    with pytest.raises(AssertionError, match=r"1 task\(s\) still pending[\s\S]*leaky-heartbeat"):
        run(main(), check_leaks=True)
    assert cleaned_up.is_set()  # still cancelled and awaited on the way out


def test_leaks_are_not_checked_by_default_and_leftovers_are_cancelled() -> None:
    cancelled = []

    async def forever() -> None:
        try:
            await asyncio.sleep(math.inf)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> str:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)
        return "done"

    assert run(main()) == "done"
    assert cancelled == [True]


def test_awaited_tasks_are_not_leaks() -> None:
    async def main() -> None:
        task = asyncio.get_running_loop().create_task(asyncio.sleep(10))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main(), check_leaks=True)


def test_run_rejects_non_coroutines_and_running_loops() -> None:
    with pytest.raises(ValueError, match="coroutine was expected"):
        run(lambda: None)  # type: ignore[arg-type]

    async def nested() -> None:
        coro = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="running event loop"):
            run(coro)

    asyncio.run(nested())


def test_run_returns_result_and_closes_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> int:
        loops.append(asyncio.get_running_loop())
        return 42

    assert run(main()) == 42
    assert loops[0].is_closed()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="shutdown timeout is 3.12+")
def test_runner_shutdown_joins_executor_threads_in_real_time() -> None:
    # asyncio.Runner passes a 300 s timeout to shutdown_default_executor, which 3.13
    # measures on loop.time(); on a virtual clock it must not expire (and warn) before
    # a busy worker thread -- one no longer holding the clock -- is joined.
    async def main() -> None:
        asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.05)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        factory = functools.partial(new_event_loop, executor_grace=0)
        with asyncio.Runner(loop_factory=factory) as runner:  # type: ignore[attr-defined,unused-ignore]
            runner.run(main())


@pytest.mark.virtual_time
async def test_marker_runs_on_the_virtual_clock() -> None:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    await asyncio.sleep(100)
    assert isinstance(loop, VirtualTimeEventLoop)
    assert loop.time() == 100.0
    assert time.perf_counter() - started < 1.0


async def test_unmarked_async_test_runs_on_a_real_loop() -> None:
    loop = asyncio.get_running_loop()
    assert not isinstance(loop, VirtualTimeEventLoop)
    before = loop.time()
    await asyncio.sleep(0.01)
    assert loop.time() - before >= 0.01


@pytest.mark.virtual_time
@pytest.mark.parametrize("delay", [1, 30])
async def test_marker_works_with_fixtures_and_parametrize(
    delay: int, request: pytest.FixtureRequest
) -> None:
    await asyncio.sleep(delay)
    assert asyncio.get_running_loop().time() == delay
    assert request.node.name == f"test_marker_works_with_fixtures_and_parametrize[{delay}]"


class TestInAClass:
    @pytest.mark.virtual_time
    async def test_method(self) -> None:
        await asyncio.sleep(7)
        assert asyncio.get_running_loop().time() == 7


@pytest.mark.virtual_time
@settings(max_examples=10, deadline=None)
@given(delay=st.integers(min_value=0, max_value=10**6))
async def test_marker_works_with_hypothesis(delay: int) -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeEventLoop)
    assert loop.time() == 0.0  # a fresh loop per example
    await asyncio.sleep(delay)
    assert loop.time() == delay


def test_marker_fails_a_test_that_leaks_a_task(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.virtual_time
        async def test_leaky():
            asyncio.get_running_loop().create_task(asyncio.sleep(5), name="forgotten")
            await asyncio.sleep(1)

        @pytest.mark.virtual_time(check_leaks=False)
        async def test_leaky_but_allowed():
            asyncio.get_running_loop().create_task(asyncio.sleep(5))
            await asyncio.sleep(1)
        """
    )
    result = pytester.runpytest("-p", PLUGIN)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*1 task(s) still pending*", "*forgotten*"])


def test_marker_misuse_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.virtual_time
        def test_sync():
            pass

        @pytest.mark.virtual_time(bogus=1)
        async def test_bad_kwarg():
            pass
        """
    )
    result = pytester.runpytest("-p", PLUGIN)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*only applies to `async def` tests*",
            "*unknown argument(s)*bogus*",
        ]
    )


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.virtual_time
        async def test_ok():
            await asyncio.sleep(1)
        """
    )
    result = pytester.runpytest("-p", PLUGIN, "--strict-markers")
    result.assert_outcomes(passed=1)
