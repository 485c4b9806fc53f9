"""RunContext: what a tool sees of the session while it runs."""

from __future__ import annotations

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
