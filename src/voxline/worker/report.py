"""Session reports: what a job's AgentSessions said and did, as plain JSON.

A recorder listens to every event of a session registered with the job, so the report
can be built after the session closed (in `on_session_end`) and sent to another process
or written to disk without custom encoders.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_args

from .._utils.aio import now

if TYPE_CHECKING:
    from ..voice.session import AgentSession


def jsonable(value: Any, *, _depth: int = 0) -> Any:
    """A JSON-serializable copy of `value`: models are dumped, enums give their value,
    exceptions their type and message, and anything else its repr."""
    if _depth > 32:
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return jsonable(value.value, _depth=_depth + 1)
    if isinstance(value, dict):
        return {str(k): jsonable(v, _depth=_depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, _depth=_depth + 1) for v in value]
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": str(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return jsonable(dump(mode="json"), _depth=_depth + 1)
        except Exception:
            try:
                return jsonable(dump(), _depth=_depth + 1)
            except Exception:
                return repr(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return repr(value)


def _event_names() -> tuple[str, ...]:
    from ..voice.events import EventTypes

    return tuple(str(name) for name in get_args(EventTypes))


class SessionRecorder:
    """Records every event of one AgentSession from the moment it is registered."""

    def __init__(self, session: AgentSession[Any], *, on_close: Callable[[], None]) -> None:
        self.session = session
        self.events: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        self.started_at = time.time()
        self._started_mono = now()
        self.duration: float | None = None
        self.close_reason: str | None = None
        self._on_close = on_close
        self._handlers: list[tuple[str, Callable[..., None]]] = []
        for name in _event_names():
            handler = self._handler(name)
            session.on(name, handler)  # type: ignore[arg-type]
            self._handlers.append((name, handler))

    @property
    def closed(self) -> bool:
        return self.close_reason is not None or self.session.lifecycle == "closed"

    def _handler(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            event = args[0] if args else None
            data = jsonable(event)
            if not isinstance(data, dict):
                data = {"value": data}
            data.setdefault("type", name)
            self.events.append(data)
            if name == "metrics_collected":
                metrics = data.get("metrics")
                if isinstance(metrics, dict):
                    self.metrics.append(metrics)
            elif name == "close":
                self.close_reason = str(data.get("reason") or "unknown")
                self.duration = now() - self._started_mono
                self._on_close()

        return record

    def detach(self) -> None:
        for name, handler in self._handlers:
            self.session.off(name, handler)  # type: ignore[arg-type]
        self._handlers.clear()

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "duration": self.duration,
            "close_reason": self.close_reason,
            "history": jsonable(self.session.history.to_dict()),
            "events": list(self.events),
            "metrics": list(self.metrics),
        }
