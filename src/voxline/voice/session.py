"""AgentSession: the orchestrator. It owns the models, the I/O slots, the turn engine, the
speech queue and the current agent, and reports every step as an event.

Decisions live in `turns.TurnEngine`; this module only moves data and performs actions.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

from .._exceptions import SessionClosedError
from .._types import NOT_GIVEN, NotGivenOr, SessionConnectOptions, is_given
from .._utils.aio import TaskSet, cancel_and_wait, now, short_id
from .._utils.emitter import EventEmitter
from ..audio import AudioFrame
from ..llm.chat_context import (
    AgentConfigUpdate,
    AgentHandoff,
    ChatContext,
    ChatItem,
    ChatMessage,
)
from ..llm.llm import LLM, ToolChoice
from ..llm.tool_context import (
    FunctionTool,
    StopResponse,
    Tool,
    ToolFlag,
    flatten_tools,
)
from ..stt.stt import STT, SpeechEvent, SpeechEventType
from ..tts.tts import TTS
from ..vad import VAD
from ..video import VideoFrame, VoiceActivityVideoSampler, encode_image
from . import turns
from .agent import Agent
from .events import (
    AgentFalseInterruptionEvent,
    AgentState,
    AgentStateChangedEvent,
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    EOUMetrics,
    ErrorEvent,
    EventTypes,
    FunctionToolsExecutedEvent,
    MetricsCollectedEvent,
    SpeechCreatedEvent,
    UserInputTranscribedEvent,
    UserState,
    UserStateChangedEvent,
    UserTranscriptionTimeoutEvent,
    UserTurnExceededEvent,
)
from .frames import InputFrames, OutputFrames
from .io import AgentInput, AgentOutput
from .ivr import (
    DTMFEvent,
    IVRDetectionOptions,
    IVRDetector,
    IVRSilenceEvent,
    make_dtmf_tool,
)
from .prompt_prefill import PromptPrefiller, can_prefill
from .recognition import SECOND_LOOK_SILENCE, Recognition
from .reply import Reply
from .reporting import error_payload, llm_metrics, model_kind, tts_metrics
from .scheduler import SpeechScheduler
from .session_options import flat_turn_layer, validate_numbers, validate_text_transforms
from .speech import SpeechHandle
from .turn_detector import TurnDetector
from .turn_options import (
    InterruptionOptions,
    ResolvedTurnHandling,
    TurnHandlingOptions,
    resolve_turn_handling,
)

logger = logging.getLogger("voxline.session")

Userdata_T = TypeVar("Userdata_T")

_on_enter_ctx: contextvars.ContextVar[bool] = contextvars.ContextVar("on_enter", default=False)
_session_ctx: contextvars.ContextVar[AgentSession[Any] | None] = contextvars.ContextVar(
    "voxline_session", default=None
)

Lifecycle = Literal["initializing", "starting", "running", "closing", "closed"]


@dataclass
class _Preemptive:
    reply: Reply
    transcript: str
    chat_ctx: ChatContext
    tool_names: tuple[str, ...]
    tool_choice: ToolChoice | None


def _current_session(agent: Agent) -> AgentSession[Any]:
    session = _session_ctx.get() or agent._session
    if session is None:
        raise RuntimeError("an AgentTask can only be awaited inside a running session")
    return session


def _resolve_model(value: Any, slot: str) -> Any:
    if isinstance(value, str):
        from ..models import resolve_model

        return resolve_model(value, slot=slot)
    return value


async def _load_default_vad() -> VAD | None:
    """Silero for a session that hears audio and was given no VAD, when the local extra is
    installed; without it (or if it cannot load) turns come from the STT as before."""
    try:
        from ..plugins import silero
    except ImportError:
        return None
    try:
        return await asyncio.to_thread(silero.VAD.load)
    except Exception as e:
        logger.warning("the default VAD (Silero) could not be loaded, continuing without: %s", e)
        return None


class AgentSession(EventEmitter[EventTypes], Generic[Userdata_T]):
    def __init__(
        self,
        *,
        stt: NotGivenOr[STT | str | None] = NOT_GIVEN,
        vad: NotGivenOr[VAD | str | None] = NOT_GIVEN,
        llm: NotGivenOr[LLM | str | None] = NOT_GIVEN,
        tts: NotGivenOr[TTS | str | None] = NOT_GIVEN,
        turn_detection: NotGivenOr[Any] = NOT_GIVEN,
        turn_handling: TurnHandlingOptions | None = None,
        tools: Sequence[Tool] | None = None,
        mcp_servers: Sequence[Any] | None = None,
        max_tool_steps: int = 3,
        ivr_detection: bool | IVRDetectionOptions = False,
        user_away_timeout: float | None = 15.0,
        min_consecutive_speech_delay: float = 0.0,
        tts_text_transforms: NotGivenOr[Sequence[Any] | None] = NOT_GIVEN,
        use_tts_aligned_transcript: NotGivenOr[bool] = NOT_GIVEN,
        preemptive_generation: NotGivenOr[bool] = NOT_GIVEN,
        video_sampler: NotGivenOr[Any] = NOT_GIVEN,
        userdata: NotGivenOr[Userdata_T] = NOT_GIVEN,
        aec_warmup_duration: float | None = 3.0,
        transcription_timeout: float | None = None,
        session_close_transcript_timeout: float = 2.0,
        conn_options: SessionConnectOptions | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        # flat turn options, as older code passes them; turn_handling wins where both are set
        allow_interruptions: NotGivenOr[bool] = NOT_GIVEN,
        discard_audio_if_uninterruptible: NotGivenOr[bool] = NOT_GIVEN,
        min_interruption_duration: NotGivenOr[float] = NOT_GIVEN,
        min_interruption_words: NotGivenOr[int] = NOT_GIVEN,
        min_endpointing_delay: NotGivenOr[float] = NOT_GIVEN,
        max_endpointing_delay: NotGivenOr[float] = NOT_GIVEN,
        false_interruption_timeout: NotGivenOr[float | None] = NOT_GIVEN,
        resume_false_interruption: NotGivenOr[bool] = NOT_GIVEN,
    ) -> None:
        super().__init__()
        validate_numbers(
            max_tool_steps=max_tool_steps,
            user_away_timeout=user_away_timeout,
            min_consecutive_speech_delay=min_consecutive_speech_delay,
            aec_warmup_duration=aec_warmup_duration,
            transcription_timeout=transcription_timeout,
        )
        self._stt: STT | None = _resolve_model(stt, "stt") if is_given(stt) else None
        self._vad: VAD | None = _resolve_model(vad, "vad") if is_given(vad) else None
        self._vad_given = is_given(vad)  # vad=None is a choice: no default VAD then
        self._llm: LLM | None = _resolve_model(llm, "llm") if is_given(llm) else None
        self._tts: TTS | None = _resolve_model(tts, "tts") if is_given(tts) else None
        self._tools: list[Tool] = list(tools or [])
        flatten_tools(self._tools)
        self._mcp_servers = list(mcp_servers or [])
        self._mcp_toolsets: dict[int, Any] = {}
        self._max_tool_steps = max_tool_steps
        if not isinstance(ivr_detection, (bool, IVRDetectionOptions)):
            raise TypeError("ivr_detection must be a bool or IVRDetectionOptions")
        self._ivr: IVRDetector | None = None
        self._ivr_tool: FunctionTool | None = None
        self._ivr_silence_handle: asyncio.TimerHandle | None = None
        if ivr_detection:
            options = (
                ivr_detection
                if isinstance(ivr_detection, IVRDetectionOptions)
                else IVRDetectionOptions()
            )
            self._ivr = IVRDetector(options)
            self._ivr_tool = make_dtmf_tool(self._send_dtmf)
        self.dtmf_sink: Callable[[str], Awaitable[None]] | None = None
        """Where pressed keys go (a telephony transport sets it); events are emitted always."""
        self._user_away_timeout = user_away_timeout
        self._min_consecutive_speech_delay = min_consecutive_speech_delay
        self._tts_text_transforms = validate_text_transforms(tts_text_transforms)
        self._use_tts_aligned_transcript = (
            use_tts_aligned_transcript if is_given(use_tts_aligned_transcript) else False
        )
        if is_given(video_sampler) and video_sampler is not None and not callable(video_sampler):
            raise TypeError("video_sampler must be callable or None")
        # NOT_GIVEN: sample by voice activity; None: every frame
        self._video_sampler: Any = (
            VoiceActivityVideoSampler() if not is_given(video_sampler) else video_sampler
        )
        self._latest_video_frame: VideoFrame | None = None
        self._video_forward_task: asyncio.Task[None] | None = None
        self._userdata: NotGivenOr[Userdata_T] = userdata
        self._aec_warmup_duration = aec_warmup_duration
        self._transcription_timeout = transcription_timeout
        self._session_close_transcript_timeout = session_close_transcript_timeout
        self._conn_options = conn_options or SessionConnectOptions()
        self._loop = loop

        flat = flat_turn_layer(
            turn_detection=turn_detection,
            preemptive_generation=preemptive_generation,
            allow_interruptions=allow_interruptions,
            discard_audio_if_uninterruptible=discard_audio_if_uninterruptible,
            min_interruption_duration=min_interruption_duration,
            min_interruption_words=min_interruption_words,
            min_endpointing_delay=min_endpointing_delay,
            max_endpointing_delay=max_endpointing_delay,
            false_interruption_timeout=false_interruption_timeout,
            resume_false_interruption=resume_false_interruption,
        )
        self._turn_layers: list[Any] = [flat, dict(turn_handling or {})]
        self._turn_handling = resolve_turn_handling(*self._turn_layers)  # validates now

        self._input = AgentInput(self._on_input_changed)
        self._output = AgentOutput(self._on_output_changed)
        self._history = ChatContext.empty()
        self._agent: Agent | None = None
        self._lifecycle: Lifecycle = "initializing"
        self._agent_state: AgentState = "initializing"
        self._user_state: UserState = "listening"
        self._scheduler: SpeechScheduler | None = None
        self._tasks = TaskSet()
        self._engine: turns.TurnEngine | None = None
        self._recognition: Recognition | None = None
        self._feeding = False
        self._pending_inputs: list[turns.TurnInput] = []
        self._tick_handle: asyncio.TimerHandle | None = None
        self._tick_at: float | None = None
        self._last_agent_fact: tuple[str, bool, bool, bool] | None = None
        self._background_tools: set[asyncio.Task[Any]] = set()
        self._pending_turns = 0
        self._tools_running = 0
        self._turn_task: asyncio.Task[None] | None = None
        self._preemptive: _Preemptive | None = None
        self._output_paused = False
        self._closing = False
        self._closed_fut: asyncio.Future[None] | None = None
        self._draining = False
        # consecutive failures per model; a success of that model resets its count
        self._error_counts: dict[str, int] = {"stt": 0, "llm": 0, "tts": 0}
        self._audio_forward_task: asyncio.Task[None] | None = None
        self._input_frames = InputFrames()
        self._output_frames = OutputFrames()
        self._room_io: Any = None
        self._agent_switch_lock: asyncio.Lock | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._state_update_pending = False
        self._run_observer: Any = None
        self._user_turn_item_id: str | None = None
        self._turn_detector: TurnDetector | None = None
        self._early_prediction: asyncio.Task[float] | None = None
        self._prefiller = PromptPrefiller(self._tasks)

    # ================================================================ properties

    @property
    def history(self) -> ChatContext:
        return self._history

    @property
    def current_agent(self) -> Agent:
        if self._agent is None:
            raise RuntimeError("the session has no agent yet: call start(agent) first")
        return self._agent

    @property
    def current_speech(self) -> SpeechHandle | None:
        return self._current_speech

    @property
    def agent_state(self) -> AgentState:
        return self._agent_state

    @property
    def user_state(self) -> UserState:
        return self._user_state

    @property
    def userdata(self) -> Userdata_T:
        if not is_given(self._userdata):
            raise ValueError("userdata was not set: pass userdata= to AgentSession")
        return self._userdata

    @userdata.setter
    def userdata(self, value: Userdata_T) -> None:
        self._userdata = value

    @property
    def input(self) -> AgentInput:
        return self._input

    @property
    def output(self) -> AgentOutput:
        return self._output

    @property
    def stt(self) -> STT | None:
        return self._stt

    @property
    def vad(self) -> VAD | None:
        return self._vad

    @property
    def llm(self) -> LLM | None:
        return self._llm

    @property
    def tts(self) -> TTS | None:
        return self._tts

    @property
    def tools(self) -> list[Tool]:
        return list(self._tools)

    @property
    def mcp_servers(self) -> list[Any]:
        return list(self._mcp_servers)

    @property
    def max_tool_steps(self) -> int:
        return self._max_tool_steps

    @property
    def conn_options(self) -> SessionConnectOptions:
        return self._conn_options

    @property
    def turn_handling(self) -> ResolvedTurnHandling:
        return self._turn_handling

    @property
    def tts_text_transforms(self) -> list[Any] | None:
        return self._tts_text_transforms

    @property
    def video_sampler(self) -> Any:
        return self._video_sampler

    @property
    def room_io(self) -> Any:
        if self._room_io is None:
            raise RuntimeError("the session was not started with a room")
        return self._room_io

    @property
    def lifecycle(self) -> Lifecycle:
        return self._lifecycle

    # ================================================================ lifecycle

    async def start(
        self,
        agent: Agent,
        *,
        room: Any = None,
        room_options: Any = None,
        capture_run: bool = False,
    ) -> Any:
        """Start the session with `agent`. With `capture_run=True`, wait until what the
        agent's on_enter said is done and return it as a RunResult."""
        if self._lifecycle != "initializing":
            raise RuntimeError(f"start() was already called (session is {self._lifecycle})")
        if not isinstance(agent, Agent):
            raise TypeError(f"start() needs an Agent, got {type(agent).__name__}")
        from ..console._context import current_console_io
        from ..worker.job import current_job_context

        job = current_job_context()  # import-light: the server's dependencies stay unloaded
        if job is not None:
            # the job keeps running while this session is open and reports its events
            job.register_session(self)
        console_io = current_console_io()
        if console_io is not None:
            # console mode: the job's room is a stand-in; the terminal is the user
            console_io.attach(self)
            room = None
        self._lifecycle = "starting"
        self._scheduler = SpeechScheduler(
            min_delay=self._min_speech_delay,
            on_change=self._update_agent_state,
            on_released=self._on_speech_released,
        )
        self._agent_switch_lock = asyncio.Lock()
        self._closed_fut = asyncio.get_running_loop().create_future()
        if room is not None:
            from . import room_io as room_io_module

            if self._room_io is not None:
                raise RuntimeError(
                    "the session already has a RoomIO (started by hand): call start() without room="
                )
            if job is not None and room is job.room and not room.isconnected():
                # `session.start(room=ctx.room)` without `await ctx.connect()` first, as
                # agent code is usually written: the job joins its room now
                await job.connect()
            self._room_io = room_io_module.RoomIO(self, room, options=room_options)
            await self._room_io.start()
        self._tasks.create(self._scheduler.run(), name="speech_scheduler")
        self._set_agent_state("listening")
        result: Any = None
        if capture_run:
            from .run_result import RunResult

            result = self._run_observer = RunResult(user_input="", session=self)
        if self._vad is None and not self._vad_given and self._input.audio is not None:
            self._vad = await _load_default_vad()
        try:
            await self._switch_agent(agent, run_on_exit=False)
            self._start_audio_forwarding()
            self._start_video_forwarding()
            if self._lifecycle == "starting":
                self._lifecycle = "running"
            if result is not None:
                await result._wait_done()
        finally:
            if result is not None:
                self._run_observer = None
        return result

    async def __aenter__(self) -> AgentSession[Userdata_T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def drain(self) -> None:
        """Finish every queued speech, then return. No new user turns start replies."""
        self._draining = True
        while True:
            pending = self._scheduler.pending() if self._scheduler else []
            if self._turn_task is not None and not self._turn_task.done():
                await asyncio.wait([self._turn_task])
                continue
            if not pending:
                return
            await asyncio.gather(*(h.wait_for_playout() for h in pending))

    async def aclose(self) -> None:
        """Close the session. Safe to call from one of its own tools: the close runs in a
        task of its own, so cancelling the caller does not stop it halfway."""
        if self._lifecycle in ("initializing", "closed"):
            self._lifecycle = "closed"
            return
        self._start_close(CloseReason.USER_INITIATED)
        assert self._close_task is not None
        await asyncio.shield(self._close_task)

    def shutdown(self, *, drain: bool = True) -> None:
        """Close from synchronous code (e.g. a signal handler)."""
        self._start_close(CloseReason.USER_INITIATED, drain=drain)

    def _start_close(self, reason: CloseReason, *, error: Any = None, drain: bool = False) -> None:
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(
                self._aclose(reason, error=error, drain=drain), name="session_close"
            )

    async def _aclose(self, reason: CloseReason, *, error: Any = None, drain: bool = False) -> None:
        if self._lifecycle == "initializing":
            self._lifecycle = "closed"
            return
        if self._closing:
            if self._closed_fut is not None:
                await asyncio.shield(self._closed_fut)
            return
        if drain:
            await self.drain()
        self._closing = True
        self._lifecycle = "closing"
        await self._commit_trailing_user_turn()
        for handle in self._scheduler.clear() if self._scheduler else []:
            if not handle.done():
                handle.interrupt(force=True)
        await self._cancel_preemptive()
        if self._turn_task is not None:
            await cancel_and_wait(self._turn_task)
        # let replies commit what was heard before their tasks are torn down
        pending = [h for h in [self._current_speech] if h is not None and not h.done()]
        if pending:
            await asyncio.wait(
                [asyncio.ensure_future(h.wait_for_playout()) for h in pending], timeout=2.0
            )
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        if self._ivr_silence_handle is not None:
            self._ivr_silence_handle.cancel()
        await cancel_and_wait(
            self._audio_forward_task, self._video_forward_task, *self._background_tools
        )
        if self._recognition is not None:
            await self._recognition.aclose()
        if self._room_io is not None:
            await self._room_io.aclose()
        await asyncio.gather(
            *(t.aclose() for t in self._mcp_toolsets.values()), return_exceptions=True
        )
        await self._tasks.aclose()
        self._lifecycle = "closed"
        # the seed's lifecycle: shutdown resets the agent to initializing, then `close`
        self._set_agent_state("initializing")
        self.emit("close", CloseEvent(reason=reason, error=error))
        if self._closed_fut is not None and not self._closed_fut.done():
            self._closed_fut.set_result(None)

    async def _commit_trailing_user_turn(self) -> None:
        """A person's last words before the session closes belong in the history."""
        engine = self._engine
        recognition = self._recognition
        if engine is None:
            return
        if not engine.transcript and recognition is not None and self._stt_expected():
            speaking_or_waiting = self._user_state == "speaking" or engine._untranscribed_since
            if speaking_or_waiting:
                recognition.final_received.clear()
                try:
                    await asyncio.wait_for(
                        recognition.final_received.wait(), self._session_close_transcript_timeout
                    )
                except asyncio.TimeoutError:
                    pass
        transcript = engine.transcript.strip()
        if transcript:
            msg = ChatMessage(role="user", content=[transcript], id=self._take_user_turn_id())
            assert self._agent is not None
            self._commit_item(self._agent, msg)
            engine.feed(turns.ClearTurn(now()))

    def _check_open(self, what: str) -> None:
        if self._lifecycle in ("closing", "closed"):
            raise SessionClosedError(f"cannot {what}: the session is {self._lifecycle}")
        if self._lifecycle == "initializing":
            raise RuntimeError(f"cannot {what}: call start(agent) first")

    # ================================================================ agents

    def update_agent(self, agent: Agent) -> None:
        """Hand the conversation to another agent (on_exit of the old, on_enter of the new)."""
        self._check_open("update_agent")
        self._tasks.create(self._switch_agent(agent), name="update_agent")

    def _schedule_handoff(self, agent: Agent) -> None:
        if not self._closing:
            task = self._tasks.create(self._switch_agent(agent), name="handoff")
            if self._run_observer is not None:
                self._run_observer._watch_task(task)

    async def _switch_agent(
        self, agent: Agent, *, run_on_exit: bool = True, run_on_enter: bool = True
    ) -> None:
        assert self._agent_switch_lock is not None
        async with self._agent_switch_lock:
            old = self._agent
            if old is agent:
                return
            if old is not None and run_on_exit:
                try:
                    await old.on_exit()
                except Exception as e:
                    logger.exception("on_exit of %s failed", old.id)
                    self._report_error(e, source=old)
            self._agent = agent
            agent._session = self
            self._ensure_instructions(agent)
            handoff = AgentHandoff(old_agent_id=old.id if old else None, new_agent_id=agent.id)
            self._history.insert(handoff)
            if self._run_observer is not None:
                self._run_observer._on_item(handoff)
            self.emit("conversation_item_added", ConversationItemAddedEvent(item=handoff))
            self._configure_turns()
            await self._restart_recognition()
            await self._setup_mcp(agent)
            self._prewarm_models(agent)
            self._prewarm_llm_prompt(agent)
            if run_on_enter:
                task = self._tasks.create(self._run_on_enter(agent), name="on_enter")
                if self._run_observer is not None:
                    self._run_observer._watch_task(task)

    def _prewarm_models(self, agent: Agent) -> None:
        """Let the agent's models load weights or open connections now (each model's
        `prewarm()` works in the background and is a no-op once done), so the first user
        turn does not pay for loading a local STT or the greeting for loading a TTS."""
        for model in (self._resolve_stt(agent), self._resolve_llm(agent), self._resolve_tts(agent)):
            prewarm = getattr(model, "prewarm", None)
            if model is None or not callable(prewarm):
                continue
            try:
                prewarm()
            except Exception as e:
                logger.warning("prewarming %s failed: %s", type(model).__name__, e)

    def _prewarm_llm_prompt(self, agent: Agent) -> None:
        """An LLM with an async `prewarm_prompt(instructions, tools)` (a local model with a
        prompt cache) reads the agent's system prompt now, in the background, so the first
        reply does not wait for it."""
        prewarm = getattr(self._resolve_llm(agent), "prewarm_prompt", None)
        if prewarm is None or not inspect.iscoroutinefunction(prewarm):
            return
        tools = self._tools_for(agent)

        async def run() -> None:
            try:
                await prewarm(agent.instructions, tools)
            except Exception as e:
                logger.warning("prewarming the LLM prompt of %s failed: %s", agent.id, e)

        self._tasks.create(run(), name="llm_prompt_prewarm")

    async def _run_on_enter(self, agent: Agent) -> None:
        token = _on_enter_ctx.set(True)
        session_token = _session_ctx.set(self)
        try:
            await agent.on_enter()
        except Exception as e:
            logger.exception("on_enter of %s failed", agent.id)
            self._report_error(e, source=agent)
        finally:
            _on_enter_ctx.reset(token)
            _session_ctx.reset(session_token)

    def _ensure_instructions(self, agent: Agent) -> None:
        ctx = agent._chat_ctx
        first = ctx.items[0] if ctx.items else None
        if first is not None and first.type == "message" and first.role == "system":
            if first.content != [agent.instructions]:
                first.content = [agent.instructions]
            return
        instr = ChatMessage(role="system", content=[agent.instructions], created_at=-1.0)
        ctx.items.insert(0, instr)
        update = AgentConfigUpdate(
            instructions=agent.instructions,
            tools_added=[t.name for t in self._tools_for(agent)] or None,
            created_at=-1.0 + 1e-9,
        )
        ctx.items.insert(1, update)

    def _on_agent_config_changed(
        self,
        agent: Agent,
        *,
        instructions: str | None = None,
        tools_added: list[str] | None = None,
        tools_removed: list[str] | None = None,
    ) -> None:
        if instructions is not None:
            self._ensure_instructions(agent)
        update = AgentConfigUpdate(
            instructions=instructions, tools_added=tools_added, tools_removed=tools_removed
        )
        agent._chat_ctx.insert(update)
        self._history.insert(update)

    def _mcp_toolsets_for(self, agent: Agent) -> list[Any]:
        servers = [*self._mcp_servers]
        if is_given(agent.mcp_servers) and agent.mcp_servers:
            servers.extend(agent.mcp_servers)
        if not servers:
            return []
        from ..llm.mcp import MCPToolset

        toolsets = []
        for server in servers:
            toolset = self._mcp_toolsets.get(id(server))
            if toolset is None:
                toolset = MCPToolset(id=f"mcp:{server.name}", server=server)
                self._mcp_toolsets[id(server)] = toolset
            toolsets.append(toolset)
        return toolsets

    async def _setup_mcp(self, agent: Agent) -> None:
        """Connect the agent's MCP servers before it speaks; one that fails is reported and
        its tools are left out, the session goes on."""
        toolsets = self._mcp_toolsets_for(agent)
        results = await asyncio.gather(*(t.setup() for t in toolsets), return_exceptions=True)
        for toolset, result in zip(toolsets, results):
            if isinstance(result, BaseException):
                logger.error("MCP toolset %s unavailable: %s", toolset.id, result)
                self.emit("error", ErrorEvent(error=result, source=toolset))

    def _tools_for(self, agent: Agent) -> list[FunctionTool]:
        """The agent's tools, then the session's, then MCP tools; a name seen twice keeps
        its first definition (two MCP servers may well both offer `search`)."""
        tools: list[FunctionTool] = []
        seen: set[str] = set()
        ivr = [self._ivr_tool] if self._ivr_tool is not None else []
        for source in [*agent.tools, *self._tools, *ivr, *self._mcp_toolsets_for(agent)]:
            for tool in flatten_tools([source]):
                if tool.name in seen:
                    logger.warning("tool %r is defined twice; keeping the first", tool.name)
                    continue
                seen.add(tool.name)
                tools.append(tool)
        if _on_enter_ctx.get():
            tools = [t for t in tools if not (t.info.flags & ToolFlag.IGNORE_ON_ENTER)]
        return tools

    # ================================================================ model resolution

    def _resolve_stt(self, agent: Agent) -> STT | None:
        return _resolve_model(agent.stt, "stt") if is_given(agent.stt) else self._stt

    def _resolve_vad(self, agent: Agent) -> VAD | None:
        return _resolve_model(agent.vad, "vad") if is_given(agent.vad) else self._vad

    def _resolve_llm(self, agent: Agent) -> LLM | None:
        return _resolve_model(agent.llm, "llm") if is_given(agent.llm) else self._llm

    def _resolve_tts(self, agent: Agent) -> TTS | None:
        return _resolve_model(agent.tts, "tts") if is_given(agent.tts) else self._tts

    def _stt_expected(self) -> bool:
        return self._agent is not None and (
            self._resolve_stt(self._agent) is not None
            or type(self._agent).stt_node is not Agent.stt_node
        )

    # ================================================================ turn engine wiring

    def _configure_turns(self) -> None:
        agent = self._agent
        assert agent is not None
        resolved = resolve_turn_handling(*self._turn_layers, agent.turn_handling)
        if is_given(agent.allow_interruptions):
            from dataclasses import replace

            resolved = replace(
                resolved,
                interruption=replace(resolved.interruption, enabled=agent.allow_interruptions),
            )
        detection_value = resolved.turn_detection
        vad = self._resolve_vad(agent)
        has_stt = self._stt_expected()
        detector: TurnDetector | None = None
        if isinstance(detection_value, str) and "/" in detection_value:
            detection_value = _resolve_model(detection_value, "turn_detection")
        if detection_value is None:
            detection: turns.DetectionMode = "vad" if vad else ("stt" if has_stt else "manual")
        elif isinstance(detection_value, str):
            if detection_value not in ("vad", "stt", "manual", "realtime_llm"):
                raise ValueError(
                    f"unknown turn_detection {detection_value!r}: use 'vad', 'stt', 'manual', "
                    "'realtime_llm', a turn detector model or a model string like "
                    "'local/smart-turn'"
                )
            detection = detection_value  # type: ignore[assignment]
            if detection == "vad" and vad is None:
                raise ValueError("turn_detection='vad' needs a VAD (pass vad=)")
        elif isinstance(detection_value, TurnDetector):
            detection = "model"
            detector = detection_value
        else:
            raise TypeError(
                f"turn_detection must be a mode string or a TurnDetector, got {detection_value!r}"
            )
        self._turn_detector = detector
        self._turn_handling = resolved
        audio_out = self._output.audio
        config = turns.TurnConfig(
            detection=detection,
            has_vad=vad is not None,
            has_stt=has_stt,
            can_pause=audio_out is not None and audio_out.can_pause,
            endpointing=resolved.endpointing,
            interruption=resolved.interruption,
            preemptive=resolved.preemptive_generation,
            user_turn_limit=resolved.user_turn_limit,
            user_away_timeout=self._user_away_timeout,
            transcription_timeout=self._transcription_timeout,
            aec_warmup_duration=self._aec_warmup_duration,
            unlikely_threshold=detector.unlikely_threshold if detector else 0.5,
        )
        if self._engine is None:
            self._engine = turns.TurnEngine(config, t=now())
        else:
            self._engine.reconfigure(config)
        self._last_agent_fact = None
        self._update_agent_state()

    @property
    def _interruption(self) -> InterruptionOptions:
        return self._turn_handling.interruption

    def _feed(self, event: turns.TurnInput) -> None:
        """Feed the engine; inputs raised while performing actions are queued, not nested."""
        if self._engine is None or self._lifecycle == "closed":
            return
        self._pending_inputs.append(event)
        if isinstance(event, turns.SpeechStarted):
            self._cancel_early_prediction()  # the turn goes on: a verdict on its audio is stale
        elif isinstance(event, turns.SpeechEnded):
            self._start_early_prediction()
        if self._feeding:
            return
        self._feeding = True
        try:
            while self._pending_inputs:
                ev = self._pending_inputs.pop(0)
                for action in self._engine.feed(ev):
                    self._perform(action)
        finally:
            self._feeding = False
        self._rearm_tick()

    def _rearm_tick(self) -> None:
        assert self._engine is not None
        deadline = self._engine.next_deadline()
        if deadline == self._tick_at:
            return
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        self._tick_at = deadline
        if deadline is not None and self._lifecycle not in ("closed",):
            loop = asyncio.get_running_loop()
            self._tick_handle = loop.call_at(deadline, self._on_tick)

    def _on_tick(self) -> None:
        self._tick_handle = None
        self._tick_at = None
        self._feed(turns.Tick(now()))

    def _perform(self, action: turns.TurnAction) -> None:
        if isinstance(action, turns.SetUserState):
            self._set_user_state(action.state, at=action.at)
        elif isinstance(action, turns.CommitUserTurn):
            self._on_user_turn(action)
        elif isinstance(action, turns.InterruptSpeech):
            cur = self._current_speech
            if cur is not None and cur.allow_interruptions and not cur.interrupted:
                cur.interrupt()
                self._update_agent_state()
        elif isinstance(action, turns.PauseSpeech):
            audio = self._output.audio
            if audio is not None and audio.can_pause and not self._output_paused:
                audio.pause()
                self._output_paused = True
                cur = self._current_speech
                if cur is not None and cur._transcript_sync is not None:
                    cur._transcript_sync.pause()
            self._update_agent_state()
        elif isinstance(action, turns.ResumeSpeech):
            self._resume_output()
            if action.false_interruption:
                self.emit("agent_false_interruption", AgentFalseInterruptionEvent(resumed=True))
            self._update_agent_state()
        elif isinstance(action, turns.StartPreemptiveReply):
            self._start_preemptive(action.transcript)
        elif isinstance(action, turns.CancelPreemptiveReply):
            self._tasks.create(self._cancel_preemptive())
        elif isinstance(action, turns.RequestTurnPrediction):
            self._tasks.create(self._predict_end_of_turn(action.transcript), name="eot")
        elif isinstance(action, turns.TranscriptionTimedOut):
            self.emit(
                "user_transcription_timeout",
                UserTranscriptionTimeoutEvent(
                    speech_duration=action.speech_duration,
                    vad_speech_started_at=action.vad_speech_started_at,
                    created_at=action.at,
                ),
            )
        elif isinstance(action, turns.UserTurnExceeded):
            ev = UserTurnExceededEvent(
                transcript=action.transcript,
                word_count=action.word_count,
                duration=action.duration,
                reason=action.reason,
            )
            self.emit("user_turn_exceeded", ev)
            if self._agent is not None:
                self._tasks.create(self._agent.on_user_turn_exceeded(ev), name="turn_exceeded")

    def _resume_output(self) -> None:
        audio = self._output.audio
        if self._output_paused and audio is not None:
            audio.resume()
            cur = self._current_speech
            if cur is not None and cur._transcript_sync is not None:
                cur._transcript_sync.resume()
        self._output_paused = False

    def _start_early_prediction(self) -> None:
        """An audio-only detector (`audio_only = True`, e.g. Smart Turn) needs no transcript:
        score the turn as soon as the user stops speaking, while the STT is still working,
        so the verdict is ready when the final transcript arrives."""
        detector = self._turn_detector
        if detector is None or not getattr(detector, "audio_only", False):
            return
        if self._recognition is None or self._early_prediction is not None:
            return  # already scoring this pause
        audio = self._recognition.recent_audio
        if not audio:
            return
        task = self._tasks.create(
            detector.predict_end_of_turn(ChatContext.empty(), audio=audio), name="eot_early"
        )
        task.add_done_callback(self._on_early_verdict)
        self._early_prediction = task

    def _on_early_verdict(self, task: asyncio.Task[float]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        # a verdict that comes back late, when the pause is already long, is retried now
        recognition = self._recognition
        if task is self._early_prediction and recognition is not None:
            if recognition.pause >= SECOND_LOOK_SILENCE:
                self._retry_early_prediction()

    def _retry_early_prediction(self) -> None:
        """The early verdict, on 0.15 s of silence, said "not finished" and the pause goes
        on: look again now, with more silence heard, so a finished turn is recognised before
        the VAD's end of speech instead of a whole model run after it."""
        early, detector = self._early_prediction, self._turn_detector
        if early is None or detector is None or not early.done() or early.cancelled():
            return  # no verdict yet: the final transcript's look covers it
        if early.exception() is not None or early.result() >= detector.unlikely_threshold:
            return
        self._early_prediction = None
        self._start_early_prediction()

    def _cancel_early_prediction(self) -> None:
        if self._early_prediction is not None:
            self._early_prediction.cancel()
            self._early_prediction = None

    async def _predict_end_of_turn(self, transcript: str) -> None:
        detector = self._turn_detector
        agent = self._agent
        if detector is None or agent is None:
            return
        early, self._early_prediction = self._early_prediction, None

        def ask() -> Awaitable[float]:
            ctx = agent.chat_ctx
            ctx.add_message(role="user", content=transcript)
            audio = self._recognition.recent_audio if self._recognition else None
            return detector.predict_end_of_turn(ctx, audio=audio)

        try:
            if early is None:
                probability = await asyncio.wait_for(ask(), timeout=2.0)
            else:
                probability = await asyncio.wait_for(asyncio.shield(early), timeout=2.0)
                if probability < detector.unlikely_threshold:
                    # scored on a short pause; "not finished" costs max_delay, so a second
                    # look at the audio as it is now (with more silence) is worth its time
                    probability = await asyncio.wait_for(ask(), timeout=2.0)
        except Exception as e:
            # without a verdict the engine keeps max_delay: late is better than cutting in
            logger.warning("end-of-turn prediction failed: %r", e)
            return
        self._feed(turns.TurnPrediction(now(), probability))

    # ================================================================ states

    def _set_user_state(self, state: UserState, *, at: float | None = None) -> None:
        if state == self._user_state:
            return
        old = self._user_state
        self._user_state = state
        self._ivr_rearm_silence()
        self.emit(
            "user_state_changed",
            UserStateChangedEvent(
                old_state=old, new_state=state, created_at=at if at is not None else now()
            ),
        )

    def _set_agent_state(self, state: AgentState) -> None:
        if state == self._agent_state:
            return
        old = self._agent_state
        self._agent_state = state
        self._ivr_rearm_silence()
        self.emit("agent_state_changed", AgentStateChangedEvent(old_state=old, new_state=state))
        if state == "listening":
            self._prefill_llm(user_text="")
        if self._room_io is not None:
            self._room_io._on_agent_state(state)

    def _update_agent_state(self) -> None:
        """Recompute the agent state once the current callback is done, so a burst of changes
        (interrupt, then a new reply) shows as one transition, not a flicker through listening."""
        if self._state_update_pending or self._lifecycle in ("initializing", "closed"):
            return
        self._state_update_pending = True
        asyncio.get_running_loop().call_soon(self._apply_agent_state)

    def _apply_agent_state(self) -> None:
        self._state_update_pending = False
        if self._lifecycle in ("initializing", "closed") or self._engine is None:
            return
        cur = self._current_speech
        engine = self._engine
        active = cur is not None and not cur.interrupted and not cur.done()
        paused_by_user = engine.agent_paused_by_user
        state: AgentState
        if (
            active
            and cur is not None
            and cur._playing
            and not paused_by_user
            and not self._output_paused
        ):
            state = "speaking"
        elif (
            (active and not paused_by_user)
            or (self._scheduler is not None and len(self._scheduler) > 0)
            or self._pending_turns > 0
            or self._tools_running > 0
        ):
            state = "thinking"
        else:
            state = "listening"
        self._set_agent_state(state)
        fact = (
            state,
            active,
            cur.allow_interruptions if cur is not None else True,
            bool(self._background_tools),
        )
        if fact != self._last_agent_fact:
            self._last_agent_fact = fact
            self._feed(turns.AgentChanged(now(), state, fact[1], fact[2], hold_away=fact[3]))

    # ================================================================ audio input

    def _on_input_changed(self) -> None:
        if self._lifecycle in ("starting", "running"):
            self._start_audio_forwarding()
            self._start_video_forwarding()

    def _on_output_changed(self) -> None:
        audio = self._output.audio
        if audio is not None:
            audio.on("playback_started", self._on_playback_started)
        if self._engine is not None and self._agent is not None:
            self._configure_turns()

    def _on_playback_started(self, ev: Any) -> None:
        cur = self._current_speech
        if cur is not None and not cur.interrupted:
            if cur._playback_started_at is None:
                cur._playback_started_at = ev.created_at
            cur._playing = True
            self._update_agent_state()

    def _start_video_forwarding(self) -> None:
        if self._video_forward_task is not None:
            self._video_forward_task.cancel()
            self._video_forward_task = None
        source = self._input.video
        if source is not None:
            self._video_forward_task = asyncio.get_running_loop().create_task(
                self._forward_video(source), name="video_input"
            )

    async def _forward_video(self, source: Any) -> None:
        """Keep the latest sampled frame; it joins the next user turn as an image."""
        try:
            async for frame in source:
                if not self._input.video_enabled:
                    continue
                if not isinstance(frame, VideoFrame):
                    raise TypeError(
                        "video input must yield voxline.video.VideoFrame, "
                        f"got {type(frame).__name__}"
                    )
                if not frame.timestamp:
                    frame = dataclasses.replace(frame, timestamp=now())
                sampler = self._video_sampler
                if sampler is None or sampler(frame, self):
                    self._latest_video_frame = frame
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._report_error(e, source="video_input")

    async def _send_dtmf(self, digits: str) -> None:
        if self.dtmf_sink is not None:
            await self.dtmf_sink(digits)
        self.emit("dtmf_sent", DTMFEvent(digits=digits))

    def _ivr_on_prompt(self, text: str) -> None:
        if self._ivr is None:
            return
        verdict = self._ivr.on_prompt(text)
        if verdict is not None:
            self.emit("ivr_loop_detected", verdict)
            self._run_hook(self._ivr.options.on_loop, verdict)

    def _ivr_rearm_silence(self) -> None:
        """A machine that stops talking (a dead line, a menu waiting for keys) is a silence
        of `silence_timeout` with neither side speaking."""
        if self._ivr is None or self._lifecycle not in ("starting", "running"):
            return
        if self._ivr_silence_handle is not None:
            self._ivr_silence_handle.cancel()
            self._ivr_silence_handle = None
        if self._agent_state != "listening" or self._user_state == "speaking":
            return
        timeout = self._ivr.options.silence_timeout
        started = now()

        def fire() -> None:
            self._ivr_silence_handle = None
            if self._ivr is None or self._lifecycle != "running":
                return
            ev = IVRSilenceEvent(silence=now() - started)
            self.emit("ivr_silence_detected", ev)
            self._run_hook(self._ivr.options.on_silence, ev)

        self._ivr_silence_handle = asyncio.get_running_loop().call_later(timeout, fire)

    def _run_hook(self, hook: Any, event: Any) -> None:
        if hook is None:
            return
        result = hook(event)
        if asyncio.iscoroutine(result):
            self._tasks.create(result, name="ivr_hook")

    def _attach_video(self, msg: ChatMessage) -> None:
        frame, self._latest_video_frame = self._latest_video_frame, None
        if frame is not None:
            msg.content.append(encode_image(frame, max_size=self._input.video_max_size))

    def _start_audio_forwarding(self) -> None:
        if self._audio_forward_task is not None:
            self._audio_forward_task.cancel()
            self._audio_forward_task = None
        source = self._input.audio
        if source is not None:
            self._audio_forward_task = asyncio.get_running_loop().create_task(
                self._forward_audio(source), name="audio_input"
            )

    async def _forward_audio(self, source: Any) -> None:
        try:
            async for frame in source:
                if not self._input.audio_enabled:
                    continue
                prepared = self._input_frames.prepare(frame)
                recognition = self._recognition
                if recognition is None or prepared is None:
                    continue
                cur = self._current_speech
                discard = (
                    cur is not None
                    and not cur.allow_interruptions
                    and cur._playing
                    and self._interruption.discard_audio_if_uninterruptible
                )
                recognition.push_audio(prepared, discard_for_stt=discard)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._report_error(e, source="audio_input")

    def _prepare_output_frame(self, frame: AudioFrame) -> AudioFrame:
        audio = self._output.audio
        return self._output_frames.prepare(frame, audio.sample_rate if audio else None)

    async def _restart_recognition(self) -> None:
        agent = self._agent
        assert agent is not None
        vad = self._resolve_vad(agent)
        has_stt = self._stt_expected()
        current = self._recognition
        keep_audio = self._turn_detector is not None
        if current is not None and current.can_serve(agent, vad=vad, has_stt=has_stt):
            # same models and nodes: keep the streams, so speech in flight survives a handoff
            current.rebind(agent)
            current.set_keep_turn_audio(keep_audio)
            return
        if current is not None:
            await current.aclose()
            self._recognition = None
        if vad is None and not has_stt:
            return
        self._recognition = Recognition(
            self, agent, vad=vad, has_stt=has_stt, feed=self._feed, keep_turn_audio=keep_audio
        )
        self._recognition.start()

    def _on_transcript(self, text: str, *, is_final: bool, event: SpeechEvent) -> None:
        if text.strip():
            self._error_counts["stt"] = 0
        if not is_final and event.type == SpeechEventType.INTERIM_TRANSCRIPT and text.strip():
            self._prefill_partial_turn(text)
        if is_final and text.strip():
            self._ivr_on_prompt(text)
        alt = event.alternatives[0] if event.alternatives else None
        if self._user_turn_item_id is None:
            # one id per user turn: every interim and final of the turn carries it, and the
            # committed message gets it, so a UI can update one line in place
            self._user_turn_item_id = short_id("item")
        self.emit(
            "user_input_transcribed",
            UserInputTranscribedEvent(
                transcript=text,
                is_final=is_final,
                item_id=self._user_turn_item_id,
                speaker_id=alt.speaker_id if alt else None,
                language=(alt.language or None) if alt else None,
            ),
        )

    # ================================================================ user turns

    def _on_user_turn(self, action: turns.CommitUserTurn) -> None:
        agent = self._agent
        assert agent is not None
        self._prefiller.cancel_pending()  # the reply's own request reads the prompt now
        metrics: dict[str, float] = {}
        if action.started_speaking_at is not None:
            metrics["started_speaking_at"] = action.started_speaking_at
        if action.stopped_speaking_at is not None:
            metrics["stopped_speaking_at"] = action.stopped_speaking_at
        if action.end_of_turn_delay is not None:
            metrics["end_of_turn_delay"] = action.end_of_turn_delay
        if action.transcription_delay is not None:
            metrics["transcription_delay"] = action.transcription_delay
        msg = ChatMessage(
            role="user",
            content=[action.transcript],
            metrics=metrics,
            id=self._take_user_turn_id(),
        )
        self._attach_video(msg)
        self.emit(
            "metrics_collected",
            MetricsCollectedEvent(
                metrics=EOUMetrics(
                    timestamp=now(),
                    end_of_utterance_delay=action.end_of_turn_delay or 0.0,
                    transcription_delay=action.transcription_delay or 0.0,
                )
            ),
        )
        previous = self._turn_task
        if previous is not None and not previous.done():
            previous.cancel()  # superseded: its message is still committed, its reply is not
        reply = action.reply and not self._draining and not self._closing
        self._pending_turns += 1
        self._update_agent_state()
        self._turn_task = asyncio.get_running_loop().create_task(
            self._user_turn_completed(agent, msg, reply=reply), name="user_turn"
        )

    async def _user_turn_completed(self, agent: Agent, msg: ChatMessage, *, reply: bool) -> None:
        committed = False
        started = now()
        try:
            turn_ctx = agent.chat_ctx
            try:
                await agent.on_user_turn_completed(turn_ctx, msg)
            except StopResponse:
                reply = False
            msg.metrics["on_user_turn_completed_delay"] = now() - started
            self._commit_item(agent, msg)
            committed = True
            if not reply:
                await self._cancel_preemptive()
                return
            turn_ctx.insert(msg)
            self._reply_to_turn(agent, turn_ctx, msg)
        except asyncio.CancelledError:
            if not committed:
                self._commit_item(agent, msg)
            raise
        except Exception as e:
            logger.exception("on_user_turn_completed failed")
            if not committed:
                self._commit_item(agent, msg)
            self._report_error(e, source=agent)
        finally:
            self._pending_turns -= 1
            self._update_agent_state()

    def _reply_to_turn(self, agent: Agent, turn_ctx: ChatContext, msg: ChatMessage) -> None:
        tools = self._tools_for(agent)
        pre = self._preemptive
        self._preemptive = None
        if (
            pre is not None
            and pre.transcript == (msg.text_content or "")
            and pre.chat_ctx.is_equivalent(turn_ctx)
            and pre.tool_names == tuple(t.name for t in tools)
            and pre.tool_choice is None
            and not pre.reply.handle.interrupted
        ):
            pre.reply._user_message = msg
            self._schedule(pre.reply, source="generate_reply", user_initiated=False)
            return
        if pre is not None:
            self._tasks.create(self._discard_reply(pre.reply))
        reply = Reply(
            self,
            agent,
            SpeechHandle(allow_interruptions=self._allow_interruptions(None)),
            chat_ctx=turn_ctx,
            tools=tools,
            tool_choice=None,
            user_message=msg,
        )
        self._schedule(reply, source="generate_reply", user_initiated=False)

    def _start_preemptive(self, transcript: str) -> None:
        agent = self._agent
        if agent is None or self._closing:
            return
        self._prefiller.cancel_pending()
        if self._preemptive is not None:
            self._tasks.create(self._discard_reply(self._preemptive.reply))
        ctx = agent.chat_ctx
        ctx.add_message(role="user", content=transcript)
        tools = self._tools_for(agent)
        reply = Reply(
            self,
            agent,
            SpeechHandle(allow_interruptions=self._allow_interruptions(None)),
            chat_ctx=ctx,
            tools=tools,
            tool_choice=None,
        )
        reply.start_llm()
        if self._turn_handling.preemptive_generation.preemptive_tts:
            reply.start_tts_early()
        self._preemptive = _Preemptive(reply, transcript, ctx, tuple(t.name for t in tools), None)

    def _prefill_llm(self, *, user_text: str) -> None:
        """Keep a local LLM's prompt cache ahead of the next request (see `prompt_prefill`):
        the history and a user message with `user_text` (empty: the message's header, so
        the next turn reads only its words)."""
        agent = self._agent
        if agent is None or self._closing or self._lifecycle != "running":
            return
        llm = self._resolve_llm(agent)
        if not can_prefill(llm):
            return  # most LLMs: no chat context is copied on every state change for nothing
        ctx = agent.chat_ctx
        ctx.add_message(role="user", content=user_text)
        self._prefiller.request(llm, ctx, self._tools_for(agent))

    def _prefill_partial_turn(self, interim: str) -> None:
        """Speculative work on the user's words so far, so it follows the preemptive
        generation setting. Not once the user pauses: the end-of-turn passes (the final
        recognition, the turn model) are about to need the cores, and a prefill cannot be
        stopped midway."""
        engine, agent, recognition = self._engine, self._agent, self._recognition
        if engine is None or agent is None or recognition is None or recognition.pause > 0.0:
            return
        if not self._turn_handling.preemptive_generation.enabled:
            return
        self._prefill_llm(user_text=f"{engine.transcript} {interim}".strip())

    async def _cancel_preemptive(self) -> None:
        pre = self._preemptive
        self._preemptive = None
        if pre is not None:
            await self._discard_reply(pre.reply)

    async def _discard_reply(self, reply: Reply) -> None:
        reply.handle.interrupt(force=True)
        await reply.cancel_generation()
        reply.handle._mark_done()

    async def run(
        self,
        *,
        user_input: str,
        input_modality: Literal["text", "audio"] = "text",
        output_type: type[Any] | None = None,
    ) -> Any:
        """Text-mode testing: send `user_input`, wait until every reply, tool step, handoff
        and on_enter it caused is done, and return a RunResult to assert on."""
        self._check_open("run")
        if self._run_observer is not None:
            raise RuntimeError("run() cannot be nested: a run is already in progress")
        from .run_result import RunResult

        result: Any = RunResult(user_input=user_input, output_type=output_type, session=self)
        self._run_observer = result
        try:
            handle = self.generate_reply(user_input=user_input)
            result._watch_speech(handle)
            await result._wait_done()
        finally:
            self._run_observer = None
        return result

    def commit_user_turn(
        self, *, transcript_timeout: float = 2.0, skip_reply: bool = False
    ) -> asyncio.Future[str]:
        """End the user's turn now (push-to-talk); resolves with the committed transcript."""
        self._check_open("commit_user_turn")
        engine = self._engine
        assert engine is not None

        async def commit() -> str:
            recognition = self._recognition
            if (
                recognition is not None
                and self._stt_expected()
                and not engine.transcript
                and (self._user_state == "speaking" or engine._untranscribed_since is not None)
            ):
                recognition.final_received.clear()
                try:
                    await asyncio.wait_for(recognition.final_received.wait(), transcript_timeout)
                except asyncio.TimeoutError:
                    pass
            transcript = engine.transcript
            self._feed(turns.CommitRequested(now(), skip_reply=skip_reply))
            return transcript

        return self._tasks.create(commit(), name="commit_user_turn")

    def _take_user_turn_id(self) -> str:
        item_id, self._user_turn_item_id = self._user_turn_item_id, None
        return item_id or short_id("item")

    def clear_user_turn(self) -> None:
        """Forget what the user said in the current turn (e.g. push-to-talk cancelled)."""
        self._check_open("clear_user_turn")
        self._user_turn_item_id = None
        self._feed(turns.ClearTurn(now()))

    # ================================================================ speech API

    def _allow_interruptions(self, value: bool | None) -> bool:
        if value is not None:
            return value
        return self._interruption.enabled

    def say(
        self,
        text: str | AsyncIterable[str],
        *,
        audio: AsyncIterable[AudioFrame] | None = None,
        allow_interruptions: bool | None = None,
        add_to_chat_ctx: bool = True,
    ) -> SpeechHandle:
        self._check_open("say")
        if not isinstance(text, str) and not hasattr(text, "__aiter__"):
            raise TypeError("say() takes a str or an async iterable of str")
        agent = self.current_agent
        if audio is None and self._resolve_tts(agent) is None and self._output.audio is not None:
            raise RuntimeError("say() needs a TTS to speak text, or pre-rendered audio=")
        handle = SpeechHandle(allow_interruptions=self._allow_interruptions(allow_interruptions))
        reply = Reply(
            self,
            agent,
            handle,
            chat_ctx=None,
            tools=[],
            tool_choice=None,
            say_text=text,
            say_audio=audio,
            add_to_chat_ctx=add_to_chat_ctx,
        )
        self._schedule(reply, source="say", user_initiated=True)
        return handle

    def generate_reply(
        self,
        *,
        user_input: str | None = None,
        instructions: str | None = None,
        tool_choice: ToolChoice | None = None,
        allow_interruptions: bool | None = None,
        chat_ctx: ChatContext | None = None,
    ) -> SpeechHandle:
        self._check_open("generate_reply")
        agent = self.current_agent
        if self._resolve_llm(agent) is None and type(agent).llm_node is Agent.llm_node:
            raise RuntimeError("generate_reply() needs an LLM: pass llm= to AgentSession or Agent")
        user_msg: ChatMessage | None = None
        if user_input is not None:
            cur = self._current_speech
            if cur is not None and cur.allow_interruptions and not cur.interrupted:
                cur.interrupt()
            self._feed(turns.UserActivity(now()))
            user_msg = ChatMessage(role="user", content=[user_input])
            self._attach_video(user_msg)
            self._commit_item(agent, user_msg)
        ctx = (chat_ctx or agent._chat_ctx).copy()
        if chat_ctx is not None:
            self._ensure_instructions_in(ctx, agent)
        if user_msg is not None and ctx.get_by_id(user_msg.id) is None:
            ctx.insert(user_msg)
        if instructions:
            ctx.items.append(ChatMessage(role="system", content=[instructions]))
        handle = SpeechHandle(allow_interruptions=self._allow_interruptions(allow_interruptions))
        reply = Reply(
            self,
            agent,
            handle,
            chat_ctx=ctx,
            tools=self._tools_for(agent),
            tool_choice=tool_choice,
            user_message=user_msg,
        )
        self._schedule(reply, source="generate_reply", user_initiated=True)
        self._update_agent_state()
        return handle

    def _ensure_instructions_in(self, ctx: ChatContext, agent: Agent) -> None:
        if not any(it.type == "message" and it.role == "system" for it in ctx.items[:1]):
            ctx.items.insert(0, ChatMessage(role="system", content=[agent.instructions]))

    def interrupt(self, *, force: bool = False) -> asyncio.Future[None]:
        """Interrupt the current and queued speeches; a queued protected speech shields the
        ones behind it unless `force`. Raises if the current speech is protected."""
        self._check_open("interrupt")
        loop = asyncio.get_running_loop()
        cur = self._current_speech
        if cur is not None and not cur.allow_interruptions and not force:
            raise RuntimeError(
                f"the current speech {cur.id} does not allow interruptions (use force=True)"
            )
        assert self._scheduler is not None
        targets = self._scheduler.interrupt_targets(force=force)
        for handle in targets:
            handle.interrupt(force=force)
        self._update_agent_state()
        fut: asyncio.Future[None] = loop.create_future()

        async def wait_all() -> None:
            await asyncio.gather(*(h.wait_for_playout() for h in targets))
            if not fut.done():
                fut.set_result(None)

        self._tasks.create(wait_all(), name="interrupt")
        return fut

    def _schedule(
        self,
        reply: Reply,
        *,
        source: Literal["say", "generate_reply", "tool_response"],
        user_initiated: bool,
    ) -> None:
        handle = reply.handle
        handle._source = source
        handle._mark_scheduled()
        if self._run_observer is not None:
            self._run_observer._watch_speech(handle)
        self._tasks.create(reply.run(), name=f"reply_{handle.id}")
        self.emit(
            "speech_created",
            SpeechCreatedEvent(
                user_initiated=user_initiated,
                source=source,
                speech_handle=handle,
            ),
        )
        assert self._scheduler is not None
        self._scheduler.push(handle)
        self._update_agent_state()

    @property
    def _current_speech(self) -> SpeechHandle | None:
        return self._scheduler.current if self._scheduler is not None else None

    def _on_speech_released(self) -> None:
        self._resume_output()
        self._update_agent_state()

    def _adopt_background_tool(self, runner: asyncio.Task[Any], call: Any) -> None:
        """A tool answered with a progress update and keeps working; its result becomes a
        reply of its own. While it runs the user is never marked away."""
        self._background_tools.add(runner)
        self._update_agent_state()

        def done(task: asyncio.Task[Any]) -> None:
            self._background_tools.discard(task)
            self._update_agent_state()
            if self._lifecycle not in ("starting", "running") or task.cancelled():
                return
            from .tools import _result_of, outcome_of

            outcome = outcome_of(call, _result_of(task))
            if outcome.output is None or not outcome.output.output:
                return
            verdict = "failed" if outcome.output.is_error else "finished"
            self._on_tool_update(
                call,
                f"The background call {call.name}({call.arguments}) {verdict}: "
                f"{outcome.output.output}",
                silent=not outcome.reply_required,
            )

        runner.add_done_callback(done)

    def _on_tool_update(self, call: Any, message: str, *, silent: bool) -> None:
        agent = self._agent
        if agent is None or self._lifecycle not in ("starting", "running"):
            return
        self._commit_item(agent, ChatMessage(role="system", content=[message]))
        if not silent:
            self.generate_reply()

    def _requeue(self, handle: SpeechHandle) -> None:
        """A tool step wants to speak again: it queues like any other speech."""
        assert self._scheduler is not None
        self._scheduler.push(handle)

    def _min_speech_delay(self) -> float:
        agent = self._agent
        if agent is not None and is_given(agent.min_consecutive_speech_delay):
            return agent.min_consecutive_speech_delay
        return self._min_consecutive_speech_delay

    # ================================================================ commits and reports

    def _commit_item(self, agent: Agent, item: ChatItem) -> None:
        agent._chat_ctx.insert(item)
        self._history.insert(item)
        if self._run_observer is not None:
            self._run_observer._on_item(item)
        if item.type == "message":
            if item.role == "assistant":
                self._error_counts["llm"] = 0
            self.emit("conversation_item_added", ConversationItemAddedEvent(item=item))

    def _emit_tools_executed(self, outcomes: list[Any]) -> None:
        self.emit(
            "function_tools_executed",
            FunctionToolsExecutedEvent(
                function_calls=[o.call for o in outcomes],
                function_call_outputs=[o.output for o in outcomes],
                has_tool_reply=any(o.reply_required for o in outcomes),
                has_agent_handoff=any(o.new_agent is not None for o in outcomes),
            ),
        )

    def _emit_llm_metrics(self, gen: Any, handle: SpeechHandle, *, cancelled: bool) -> None:
        metrics = llm_metrics(gen, speech_id=handle.id, cancelled=cancelled)
        if metrics is not None:
            self.emit("metrics_collected", MetricsCollectedEvent(metrics=metrics))

    def _emit_tts_metrics(
        self, text: str, state: Any, *, ttfb: float | None, cancelled: bool, speech_id: str
    ) -> None:
        metrics = tts_metrics(text, state, ttfb=ttfb, cancelled=cancelled, speech_id=speech_id)
        if metrics is not None:
            self._error_counts["tts"] = 0
            self.emit("metrics_collected", MetricsCollectedEvent(metrics=metrics))

    def _report_error(self, error: BaseException, *, source: Any) -> None:
        """Emit `error`; close with CloseReason.ERROR after too many failures in a row."""
        if self._lifecycle in ("closing", "closed"):
            return
        kind = model_kind(error, source)
        model = {"stt": self._stt, "tts": self._tts, "llm": self._llm}.get(kind or "")
        payload = error_payload(error, kind, model.label if model else (kind or "session"))
        self.emit("error", ErrorEvent(error=payload, source=source))
        if kind is not None:
            self._error_counts[kind] += 1
            if self._error_counts[kind] >= self._conn_options.max_unrecoverable_errors:
                self._start_close(CloseReason.ERROR, error=payload)
