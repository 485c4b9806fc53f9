"""RunContext: what a tool sees of the session while it runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..llm.chat_context import FunctionCall

if TYPE_CHECKING:
    from .session import AgentSession
    from .speech import SpeechHandle

Userdata_T = TypeVar("Userdata_T")


class RunContext(Generic[Userdata_T]):
    def __init__(
        self,
        *,
        session: AgentSession[Any],
        speech_handle: SpeechHandle,
        function_call: FunctionCall,
    ) -> None:
        self._session = session
        self._speech_handle = speech_handle
        self._function_call = function_call
        self._first_update: asyncio.Future[tuple[str, bool]] = (
            asyncio.get_running_loop().create_future()
        )

    @property
    def session(self) -> AgentSession[Userdata_T]:
        return self._session

    @property
    def speech_handle(self) -> SpeechHandle:
        return self._speech_handle

    @property
    def function_call(self) -> FunctionCall:
        return self._function_call

    @property
    def userdata(self) -> Userdata_T:
        return self._session.userdata  # type: ignore[no-any-return]

    def disallow_interruptions(self) -> None:
        """Protect the rest of this turn (e.g. while a payment is being made)."""
        self._speech_handle.allow_interruptions = False

    async def wait_for_playout(self) -> None:
        """Wait until what the agent said before calling this tool finished playing."""
        await self._speech_handle._playout_of_step()

    async def update(self, message: str, *, silent: bool = False) -> None:
        """Report progress of a long tool. The first update answers the model right away
        (the tool goes on in the background and its result comes as a later reply); later
        updates are added to the conversation and, unless `silent`, spoken about."""
        if not self._first_update.done():
            self._first_update.set_result((message, silent))
            return
        self._session._on_tool_update(self._function_call, message, silent=silent)

    @contextlib.asynccontextmanager
    async def with_filler(
        self,
        text: str,
        *,
        delay: float = 1.0,
        interval: float | None = None,
        max_steps: int = 1,
    ) -> AsyncIterator[None]:
        """Say `text` if the body takes longer than `delay` (then every `interval`, at most
        `max_steps` times), so the caller never sits in dead air."""

        async def filler() -> None:
            await asyncio.sleep(delay)
            for step in range(max_steps):
                self._session.say(text, add_to_chat_ctx=False)
                if interval is None or step + 1 >= max_steps:
                    return
                await asyncio.sleep(interval)

        task = asyncio.get_running_loop().create_task(filler(), name="tool_filler")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
