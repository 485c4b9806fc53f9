"""Agent: instructions, tools, per-agent model overrides, hooks, and overridable nodes.

The nodes are the pipeline's seams: `stt_node` (audio -> speech events), `llm_node`
(chat -> text and tool calls), `tts_node` (text -> audio), `transcription_node` (text -> what
the user reads). Override one and call `Agent.default.<node>(self, ...)` to wrap the default.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union

from .._types import NOT_GIVEN, NotGivenOr, is_given
from ..audio import AudioFrame
from ..llm.chat_context import ChatContext, ChatMessage
from ..llm.llm import LLM, ChatChunk, ToolChoice
from ..llm.tool_context import FunctionTool, Tool, find_function_tools, flatten_tools
from ..stt.stt import STT, SpeechEvent
from ..tts.tts import TIMED_TRANSCRIPT_KEY, TTS
from ..vad import VAD
from .turn_options import TurnHandlingOptions

if TYPE_CHECKING:
    from .events import UserTurnExceededEvent
    from .session import AgentSession

T = TypeVar("T")


class FlushSentinel:
    """Yield from `llm_node` to end a segment: what came before is synthesized and played
    while the rest is still being generated (one chat message, several audio segments)."""


@dataclass(frozen=True)
class ModelSettings:
    tool_choice: ToolChoice | None = None


LLMNodeOutput = Union[
    AsyncIterable[Union[ChatChunk, str, FlushSentinel]],
    Coroutine[Any, Any, Union[str, ChatChunk, None]],
    str,
    None,
]


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Agent:
    def __init__(
        self,
        *,
        instructions: str,
        id: str | None = None,
        chat_ctx: ChatContext | None = None,
        tools: Sequence[Tool] | None = None,
        turn_handling: TurnHandlingOptions | None = None,
        stt: NotGivenOr[STT | str | None] = NOT_GIVEN,
        vad: NotGivenOr[VAD | str | None] = NOT_GIVEN,
        llm: NotGivenOr[LLM | str | None] = NOT_GIVEN,
        tts: NotGivenOr[TTS | str | None] = NOT_GIVEN,
        mcp_servers: NotGivenOr[Sequence[Any] | None] = NOT_GIVEN,
        allow_interruptions: NotGivenOr[bool] = NOT_GIVEN,
        min_consecutive_speech_delay: NotGivenOr[float] = NOT_GIVEN,
        use_tts_aligned_transcript: NotGivenOr[bool] = NOT_GIVEN,
    ) -> None:
        if not isinstance(instructions, str):
            raise TypeError(f"instructions must be a str, got {type(instructions).__name__}")
        self._instructions = instructions
        self._id = id or _snake_case(type(self).__name__)
        self._tools: list[Tool] = [*(tools or []), *find_function_tools(self)]
        flatten_tools(self._tools)  # fail early on duplicate names
        self._chat_ctx = chat_ctx.copy() if chat_ctx is not None else ChatContext.empty()
        self._turn_handling = turn_handling
        self._stt = stt
        self._vad = vad
        self._llm = llm
        self._tts = tts
        self._mcp_servers = mcp_servers
        if is_given(min_consecutive_speech_delay) and min_consecutive_speech_delay < 0:
            raise ValueError("min_consecutive_speech_delay must be >= 0")
        self._allow_interruptions = allow_interruptions
        self._min_consecutive_speech_delay = min_consecutive_speech_delay
        self._use_tts_aligned_transcript = use_tts_aligned_transcript
        self._session: AgentSession[Any] | None = None

    # ------------------------------------------------------------ properties

    @property
    def id(self) -> str:
        return self._id

    @property
    def label(self) -> str:
        return type(self).__name__

    @property
    def instructions(self) -> str:
        return self._instructions

    @property
    def tools(self) -> list[Tool]:
        return list(self._tools)

    @property
    def function_tools(self) -> list[FunctionTool]:
        return flatten_tools(self._tools)

    @property
    def chat_ctx(self) -> ChatContext:
        """A read-only view: change it with `update_chat_ctx`."""
        return self._chat_ctx.copy()

    @property
    def turn_handling(self) -> TurnHandlingOptions | None:
        return self._turn_handling

    @property
    def stt(self) -> NotGivenOr[STT | str | None]:
        return self._stt

    @property
    def vad(self) -> NotGivenOr[VAD | str | None]:
        return self._vad

    @property
    def llm(self) -> NotGivenOr[LLM | str | None]:
        return self._llm

    @property
    def tts(self) -> NotGivenOr[TTS | str | None]:
        return self._tts

    @property
    def mcp_servers(self) -> NotGivenOr[Sequence[Any] | None]:
        return self._mcp_servers

    @property
    def allow_interruptions(self) -> NotGivenOr[bool]:
        return self._allow_interruptions

    @property
    def min_consecutive_speech_delay(self) -> NotGivenOr[float]:
        return self._min_consecutive_speech_delay

    @property
    def use_tts_aligned_transcript(self) -> NotGivenOr[bool]:
        return self._use_tts_aligned_transcript

    @property
    def session(self) -> AgentSession[Any]:
        if self._session is None:
            raise RuntimeError(f"agent {self._id!r} is not running in a session")
        return self._session

    # ------------------------------------------------------------ updates

    async def update_instructions(self, instructions: str) -> None:
        self._instructions = instructions
        if self._session is not None:
            self._session._on_agent_config_changed(self, instructions=instructions)

    async def update_tools(self, tools: Sequence[Tool]) -> None:
        flatten_tools(list(tools))
        old = {t.name for t in flatten_tools(self._tools)}
        self._tools = list(tools)
        new = {t.name for t in flatten_tools(self._tools)}
        if self._session is not None:
            self._session._on_agent_config_changed(
                self, tools_added=sorted(new - old), tools_removed=sorted(old - new)
            )

    async def update_chat_ctx(self, chat_ctx: ChatContext) -> None:
        self._chat_ctx = chat_ctx.copy()
        if self._session is not None:
            self._session._ensure_instructions(self)

    # ------------------------------------------------------------ hooks

    async def on_enter(self) -> None:
        """Runs when the agent becomes active (e.g. greet with `generate_reply`)."""

    async def on_exit(self) -> None:
        """Runs before another agent takes over."""

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        """Runs after the user's turn is committed and before the reply.

        Change `new_message` or `turn_ctx` (a copy) to add context; raise `StopResponse` to
        skip the reply."""

    async def on_user_turn_exceeded(self, ev: UserTurnExceededEvent) -> None:
        """Runs when the user's turn exceeds `user_turn_limit`. Default: nothing."""

    # ------------------------------------------------------------ nodes

    def stt_node(
        self, audio: AsyncIterable[AudioFrame], model_settings: ModelSettings
    ) -> AsyncIterable[SpeechEvent | str] | None:
        return Agent.default.stt_node(self, audio, model_settings)

    def llm_node(
        self,
        chat_ctx: ChatContext,
        tools: list[FunctionTool],
        model_settings: ModelSettings,
    ) -> LLMNodeOutput:
        return Agent.default.llm_node(self, chat_ctx, tools, model_settings)

    def tts_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterable[AudioFrame] | None:
        return Agent.default.tts_node(self, text, model_settings)

    def transcription_node(
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterable[str] | None:
        return Agent.default.transcription_node(self, text, model_settings)

    class default:
        """The default node implementations, callable from overrides."""

        @staticmethod
        async def stt_node(
            agent: Agent, audio: AsyncIterable[AudioFrame], model_settings: ModelSettings
        ) -> AsyncIterator[SpeechEvent]:
            from ..stt.stream_adapter import StreamAdapter

            session = agent.session
            stt = session._resolve_stt(agent)
            if stt is None:
                return
            if not stt.capabilities.streaming:
                vad = session._resolve_vad(agent)
                if vad is None:
                    raise RuntimeError(
                        f"{stt.label} is not streaming and needs a VAD to segment speech"
                    )
                # a batch STT may offer to start before the VAD's end of speech
                early = getattr(stt, "early_recognition", None)
                interim = getattr(stt, "interim_interval", None)
                stt = StreamAdapter(
                    stt=stt, vad=vad, early_recognition=early, interim_interval=interim
                )
            stream = stt.stream(conn_options=session.conn_options.stt_conn_options)

            async def forward() -> None:
                async for frame in audio:
                    stream.push_frame(frame)
                stream.end_input()

            task = asyncio.get_running_loop().create_task(forward())
            try:
                async for ev in stream:
                    yield ev
            finally:
                task.cancel()
                await stream.aclose()
                await asyncio.gather(task, return_exceptions=True)

        @staticmethod
        async def llm_node(
            agent: Agent,
            chat_ctx: ChatContext,
            tools: list[FunctionTool],
            model_settings: ModelSettings,
        ) -> AsyncIterator[ChatChunk]:
            session = agent.session
            llm = session._resolve_llm(agent)
            if llm is None:
                raise RuntimeError("no LLM configured: pass llm= to AgentSession or Agent")
            tool_choice = model_settings.tool_choice
            async with llm.chat(
                chat_ctx=chat_ctx,
                tools=tools,
                tool_choice=tool_choice,
                conn_options=session.conn_options.llm_conn_options,
            ) as stream:
                async for chunk in stream:
                    yield chunk

        @staticmethod
        async def tts_node(
            agent: Agent, text: AsyncIterable[str], model_settings: ModelSettings
        ) -> AsyncIterator[AudioFrame]:
            from ..tts.stream_adapter import StreamAdapter

            session = agent.session
            tts = session._resolve_tts(agent)
            if tts is None:
                return
            if not tts.capabilities.streaming:
                tts = StreamAdapter(tts=tts)
            stream = tts.stream(conn_options=session.conn_options.tts_conn_options)

            async def forward() -> None:
                async for piece in text:
                    stream.push_text(piece)
                stream.end_input()

            task = asyncio.get_running_loop().create_task(forward())
            try:
                async for audio in stream:
                    if audio.timed_text:
                        audio.frame.userdata[TIMED_TRANSCRIPT_KEY] = audio.timed_text
                    yield audio.frame
            finally:
                task.cancel()
                await stream.aclose()
                await asyncio.gather(task, return_exceptions=True)

        @staticmethod
        async def transcription_node(
            agent: Agent, text: AsyncIterable[str], model_settings: ModelSettings
        ) -> AsyncIterator[str]:
            async for piece in text:
                yield piece


class AgentTask(Agent, Generic[T]):
    """An agent that runs until it calls `complete(result)`; awaiting it (from a tool or
    `on_enter`) returns the result and gives control back to the calling agent."""

    def __init__(self, *, instructions: str, **kwargs: Any) -> None:
        super().__init__(instructions=instructions, **kwargs)
        self._result_fut: asyncio.Future[T] | None = None

    def _future(self) -> asyncio.Future[T]:
        if self._result_fut is None:
            self._result_fut = asyncio.get_running_loop().create_future()
        return self._result_fut

    def done(self) -> bool:
        return self._result_fut is not None and self._result_fut.done()

    def complete(self, result: T | BaseException) -> None:
        fut = self._future()
        if fut.done():
            raise RuntimeError(f"task {self.id!r} is already complete")
        observer = self._session._run_observer if self._session is not None else None
        if observer is not None:
            observer._on_task_result(self, result)
        if isinstance(result, BaseException):
            fut.set_exception(result)
        else:
            fut.set_result(result)

    def __await__(self) -> Any:
        return self._run().__await__()

    async def _run(self) -> T:
        from .session import _current_session

        session = _current_session(self)
        previous = session.current_agent
        await session._switch_agent(self, run_on_exit=False)
        try:
            return await asyncio.shield(self._future())
        finally:
            # what was said during the task belongs to the caller's conversation too
            previous._chat_ctx.merge(
                self._chat_ctx.copy(
                    exclude_function_call=True,
                    exclude_instructions=True,
                    exclude_config_update=True,
                )
            )
            if session.current_agent is self and not session._closing:
                await session._switch_agent(previous, run_on_exit=True, run_on_enter=False)
