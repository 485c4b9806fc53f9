"""Model files that plugins need at run time, fetched ahead by `download-files`.

A container image should not download a turn detector or a VAD model on the first call:
the build runs `python agent.py download-files` once, and the files are baked in. A plugin
declares its files when it is imported:

    from voxline.cli import downloads

    downloads.register("my-plugin/turn-detector", fetch_turn_detector_weights)

`fn` takes no argument and may be a plain function or a coroutine function.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["DownloadFn", "DownloadResult", "download_all", "register", "registered", "unregister"]

logger = logging.getLogger("voxline.cli")

DownloadFn = Callable[[], "Awaitable[object] | object"]

_registry: dict[str, DownloadFn] = {}


def register(name: str, fn: DownloadFn) -> None:
    """Declare that `fn()` downloads the files `name` needs. Registering a name again
    replaces its function (a plugin module imported twice must not fail)."""
    if not name:
        raise ValueError("a download needs a name")
    if not callable(fn):
        raise TypeError(f"download {name!r}: expected a callable, got {type(fn).__name__}")
    _registry[name] = fn


def unregister(name: str) -> None:
    _registry.pop(name, None)


def registered() -> dict[str, DownloadFn]:
    """The registered downloads by name, in registration order (a copy)."""
    return dict(_registry)


@dataclass(frozen=True)
class DownloadResult:
    name: str
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def download_all(
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[DownloadResult], None] | None = None,
) -> list[DownloadResult]:
    """Run every registered download, one after the other; a failure is recorded and the
    next one still runs, so one broken plugin does not hide the others' errors."""
    results: list[DownloadResult] = []
    for name, fn in registered().items():
        if on_start is not None:
            on_start(name)
        try:
            value = fn()
            if inspect.isawaitable(value):
                await value
            result = DownloadResult(name)
        except Exception as e:
            logger.debug("download %s failed", name, exc_info=True)
            result = DownloadResult(name, e)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results
