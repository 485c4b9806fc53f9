"""A synchronous event emitter: handlers run inline, in registration order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=str)
logger = logging.getLogger("voxline")


class EventEmitter(Generic[T]):
    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[..., Any]]] = {}

    def on(self, event: T, callback: Callable[..., Any] | None = None) -> Any:
        """Register a handler; usable as `session.on("close", cb)` or as a decorator."""
        if callback is None:

            def decorator(cb: Callable[..., Any]) -> Callable[..., Any]:
                self.on(event, cb)
                return cb

            return decorator
        self._handlers.setdefault(event, []).append(callback)
        return callback

    def once(self, event: T, callback: Callable[..., Any]) -> None:
        def wrapper(*args: Any) -> None:
            self.off(event, wrapper)
            callback(*args)

        self.on(event, wrapper)

    def off(self, event: T, callback: Callable[..., Any]) -> None:
        handlers = self._handlers.get(event, [])
        if callback in handlers:
            handlers.remove(callback)

    def emit(self, event: T, *args: Any) -> None:
        for cb in list(self._handlers.get(event, [])):
            try:
                cb(*args)
            except Exception:
                # a faulty listener must not break the voice pipeline
                logger.exception("error in %r event handler", event)
