"""pytest plugin: run ``async def`` tests, on voxline's virtual clock when marked.

* ``@pytest.mark.virtual_time`` on an ``async def`` test runs it with
  :func:`voxline.testing.clock.run` and ``check_leaks=True``, so a 100 s conversation
  takes milliseconds and a task left running when the test returns fails the test.
  Keyword arguments on the marker go to ``run()``, e.g.
  ``@pytest.mark.virtual_time(check_leaks=False, executor_grace=1.0)``.
* An unmarked ``async def`` test runs on a fresh real-time loop with ``asyncio.run``,
  for code that must be exercised against real time.

This is a ``pytest_pyfunc_call`` hook rather than a dependency on pytest-asyncio: the
test needs a loop of our own class, created fresh per test, and nothing else. Tests that
pytest-asyncio, anyio or pytest-trio claim (by their markers or the ``anyio_backend``
fixture) are left to them. ``@given`` (hypothesis) async tests work too: each example
runs on its own fresh loop. Async fixtures are not supported; set up inside the test.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from voxline.testing.clock import run

__all__ = ["pytest_configure", "pytest_pyfunc_call"]

_MARKER = "virtual_time"
_MARKER_KWARGS = frozenset({"check_leaks", "debug", "executor_grace"})
# Markers of other async test runners; their tests are theirs to run.
_FOREIGN_MARKERS = ("asyncio", "anyio", "trio")

_AsyncFn = Callable[..., Coroutine[Any, Any, Any]]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` accepts it without any ini entry."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**run_kwargs): run this async test on voxline's virtual clock "
        "(voxline.testing.run, check_leaks=True unless overridden)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run async test functions; return ``None`` to leave everything else to pytest."""
    if _is_foreign(pyfuncitem):
        return None
    func = pyfuncitem.obj
    hypothesis_handle: Any = getattr(func, "hypothesis", None)
    inner: Any = getattr(hypothesis_handle, "inner_test", None)
    async_hypothesis = inner is not None and inspect.iscoroutinefunction(inner)
    if not async_hypothesis and not inspect.iscoroutinefunction(func):
        if _MARKER in {mark.name for mark in pyfuncitem.own_markers}:
            pytest.fail(
                f"@pytest.mark.{_MARKER} only applies to `async def` tests; "
                f"{pyfuncitem.nodeid} is a plain function",
                pytrace=False,
            )
        return None

    runner = _runner_for(pyfuncitem)
    funcargs = pyfuncitem.funcargs
    testargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    if async_hypothesis:
        # @given wraps the test in a sync function that calls ``inner_test`` once per
        # example; a sync inner test that drives the coroutine runs each example on a
        # fresh loop. Restored afterwards so reruns see the original.
        hypothesis_handle.inner_test = _sync_wrapper(inner, runner)
        try:
            func(**testargs)
        finally:
            hypothesis_handle.inner_test = inner
    else:
        runner(func(**testargs))
    return True


def _is_foreign(item: pytest.Function) -> bool:
    return "anyio_backend" in item.funcargs or any(
        item.get_closest_marker(name) is not None for name in _FOREIGN_MARKERS
    )


def _runner_for(item: pytest.Function) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Pick how to drive the test's coroutine, from the item's marker (if any)."""
    marker = item.get_closest_marker(_MARKER)
    if marker is None:
        return asyncio.run
    if marker.args:
        pytest.fail(
            f"@pytest.mark.{_MARKER} takes keyword arguments only, got {marker.args!r}",
            pytrace=False,
        )
    unknown = set(marker.kwargs) - _MARKER_KWARGS
    if unknown:
        pytest.fail(
            f"@pytest.mark.{_MARKER} got unknown argument(s) {sorted(unknown)}; "
            f"allowed: {sorted(_MARKER_KWARGS)}",
            pytrace=False,
        )
    kwargs: dict[str, Any] = {"check_leaks": True, **marker.kwargs}
    return functools.partial(run, **kwargs)


def _sync_wrapper(
    inner: _AsyncFn, runner: Callable[[Coroutine[Any, Any, Any]], Any]
) -> Callable[..., Any]:
    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return runner(inner(*args, **kwargs))

    return wrapper
