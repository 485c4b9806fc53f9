"""The console I/O of the job being run, as a context variable.

A context variable (not a global) because a console job and the code that creates its
AgentSession are far apart: the CLI builds the I/O, the server runs the user's entrypoint,
the entrypoint builds a session, and `AgentSession.start()` looks the I/O up here. Tasks
created inside the job inherit the value, other jobs in the same process do not.

This module imports nothing heavy, so `AgentSession.start()` can consult it cheaply.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._io import ConsoleIO

__all__ = ["current_console_io", "use_console_io"]

_console_io: contextvars.ContextVar[ConsoleIO | None] = contextvars.ContextVar(
    "voxline_console_io", default=None
)


def current_console_io() -> ConsoleIO | None:
    """The console I/O a session started in this context should use instead of a room."""
    return _console_io.get()


@contextlib.contextmanager
def use_console_io(io: ConsoleIO | None) -> Iterator[ConsoleIO | None]:
    """Make `io` the current console I/O inside the block (tasks created inside keep it)."""
    token = _console_io.set(io)
    try:
        yield io
    finally:
        _console_io.reset(token)
