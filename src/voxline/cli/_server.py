"""The part of the agent server the CLI relies on (see the `voxline.cli` docstring)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..console import ConsoleIO

__all__ = ["AgentServerLike"]


@runtime_checkable
class AgentServerLike(Protocol):
    """What `run_app(server)` needs from `voxline.worker.AgentServer` (or any stand-in)."""

    @property
    def entrypoint(self) -> Callable[..., Awaitable[Any]] | None:
        """The coroutine function registered with `@server.rtc_session` (None: none yet)."""

    async def run(self, *, devmode: bool) -> None:
        """Register with the dispatcher and run jobs until stopped (`dev`, `start`)."""

    async def simulate_job(
        self,
        room_name: str,
        *,
        console_io: ConsoleIO | None = None,
        participant_identity: str | None = None,
    ) -> None:
        """Run one job of `entrypoint` in this process and event loop, without dispatch,
        and return when it has ended (`console`, `connect`)."""
