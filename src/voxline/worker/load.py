"""The default worker load: CPU used by the server process and its job processes,
as a fraction of the machine's cores, averaged over the last 2.5 s.

It counts this worker's own processes rather than the whole machine, so two workers on
one box (or a busy neighbour) do not read each other's work as their own load.
"""

from __future__ import annotations

import os
from collections import deque

from .._utils.aio import now

SAMPLE_INTERVAL = 0.5
WINDOW = 5  # samples: 2.5 s


def _cpu_seconds_by_pid() -> dict[int, float]:
    import psutil  # type: ignore[import-untyped, unused-ignore]

    me = psutil.Process()
    found: dict[int, float] = {}
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found[proc.pid] = t.user + t.system
    return found


class CpuLoad:
    """Call `sample()` every `SAMPLE_INTERVAL`; `value` is the moving average (0..1)."""

    def __init__(self, window: int = WINDOW) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self._last: dict[int, float] | None = None
        self._last_at = 0.0
        self._cores = os.cpu_count() or 1

    def sample(self) -> None:
        try:
            current = _cpu_seconds_by_pid()
        except ImportError:
            current = {os.getpid(): sum(os.times()[:2])}
        at = now()
        if self._last is not None and at > self._last_at:
            used = sum(
                max(0.0, seconds - self._last.get(pid, seconds)) for pid, seconds in current.items()
            )
            self._samples.append(min(1.0, used / ((at - self._last_at) * self._cores)))
        self._last = current
        self._last_at = at

    @property
    def value(self) -> float:
        return sum(self._samples) / len(self._samples) if self._samples else 0.0
