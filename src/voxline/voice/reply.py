"""One agent reply: llm_node -> segments of text -> tts_node -> audio output, tool steps,
and the commit of what the user actually heard.

The LLM starts before the speech is authorized (that is what makes preemptive generation
and low latency possible); nothing reaches the output until the scheduler authorizes it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._types import is_given
from .._utils.aio import Chan, ChanClosed, cancel_and_wait, now
from ..audio import AudioFrame
from ..llm.chat_context import ChatContext, ChatMessage
from ..llm.llm import ChatChunk, FunctionToolCall, ToolChoice
from ..llm.tool_context import FunctionTool
from ..tts.tts import TIMED_TRANSCRIPT_KEY
from .agent import Agent, FlushSentinel, ModelSettings
from .segment import SegmentPipeline
from .speech import SpeechHandle
from .synchronizer import TranscriptSynchronizer
from .tools import ToolOutcome, run_tool_call

if TYPE_CHECKING:
    from .session import AgentSession

logger = logging.getLogger("voxline.reply")


@dataclass
class Generation:
    """The LLM side of one step: text segments as they stream, then the tool calls."""

    segments: Chan[Chan[str]] = field(default_factory=Chan)
    tool_calls: list[FunctionToolCall] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=now)
    first_token_at: float | None = None
    finished_at: float | None = None
    task: asyncio.Task[None] | None = None

    @property
    def ttft(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started_at


async def _iterate_llm_output(output: Any) -> AsyncIterator[ChatChunk | str | FlushSentinel]:
    if inspect.isawaitable(output):
        output = await output
    if output is None:
        return
    if isinstance(output, (str, ChatChunk, FlushSentinel)):
        yield output
        return
    async for item in output:
        yield item


def start_generation(
    agent: Agent, chat_ctx: ChatContext, tools: list[FunctionTool], settings: ModelSettings
) -> Generation:
    gen = Generation()

    async def run() -> None:
        segment: Chan[str] = Chan()
        gen.segments.send_nowait(segment)
        try:
            async for item in _iterate_llm_output(agent.llm_node(chat_ctx, tools, settings)):
                if isinstance(item, FlushSentinel):
                    segment.close()
                    segment = Chan()
                    gen.segments.send_nowait(segment)
                    continue
                if isinstance(item, ChatChunk):
                    if item.delta is None:
                        continue
                    gen.tool_calls.extend(item.delta.tool_calls)
                    text = item.delta.content or ""
                else:
                    text = item
                if text:
                    if gen.first_token_at is None:
                        gen.first_token_at = now()
                    gen.text.append(text)
                    segment.send_nowait(text)
        except Exception as e:
            e._voxline_source = "llm"  # type: ignore[attr-defined]
            raise
        finally:
            gen.finished_at = now()
            segment.close()
            gen.segments.close()

    gen.task = asyncio.get_running_loop().create_task(run(), name="llm_node")
    return gen


def text_generation(text: str | AsyncIterable[str]) -> Generation:
    """A Generation fed by fixed text (for `say`)."""
    gen = Generation()

    async def run() -> None:
        segment: Chan[str] = Chan()
        gen.segments.send_nowait(segment)
        try:
            if isinstance(text, str):
                gen.first_token_at = now()
                gen.text.append(text)
                segment.send_nowait(text)
            else:
                async for piece in text:
                    if gen.first_token_at is None:
                        gen.first_token_at = now()
                    gen.text.append(piece)
                    segment.send_nowait(piece)
        finally:
            gen.finished_at = now()
            segment.close()
            gen.segments.close()

    gen.task = asyncio.get_running_loop().create_task(run(), name="say_text")
    return gen


@dataclass
class StepResult:
    text: str
    heard: str
    interrupted: bool
    played_any: bool
    started_speaking_at: float | None
    stopped_speaking_at: float | None
    tts_ttfb: float | None


class Reply:
    """Drives one SpeechHandle from generation to commit, including tool steps."""

    def __init__(
        self,
        session: AgentSession[Any],
        agent: Agent,
        handle: SpeechHandle,
        *,
        chat_ctx: ChatContext | None,
        tools: list[FunctionTool],
        tool_choice: ToolChoice | None,
        user_message: ChatMessage | None = None,
        say_text: str | AsyncIterable[str] | None = None,
        say_audio: AsyncIterable[AudioFrame] | None = None,
        add_to_chat_ctx: bool = True,
    ) -> None:
        self._session = session
        self._agent = agent
        self._handle = handle
        self._chat_ctx = chat_ctx
        self._tools = tools
        self._tool_choice = tool_choice
        self._user_message = user_message
        self._say_text = say_text
        self._say_audio = say_audio
        self._add_to_chat_ctx = add_to_chat_ctx
        self._generation: Generation | None = None
        self._early_segment: asyncio.Task[SegmentPipeline | None] | None = None
        self._created_at = now()

    @property
    def handle(self) -> SpeechHandle:
        return self._handle

    def start_llm(self) -> None:
        """Start the model now, before authorization (preemptive generation)."""
        if self._generation is not None:
            return
        if self._say_text is not None:
            self._generation = text_generation(self._say_text)
        elif self._say_audio is not None:
            self._generation = text_generation("")
        else:
            assert self._chat_ctx is not None
            self._generation = start_generation(
                self._agent,
                self._chat_ctx,
                self._tools,
                ModelSettings(tool_choice=self._tool_choice),
            )

    async def cancel_generation(self) -> None:
        if self._early_segment is not None:
            early, self._early_segment = self._early_segment, None
            await cancel_and_wait(early)
            if early.done() and not early.cancelled() and early.result() is not None:
                pipeline = early.result()
                assert pipeline is not None
                await pipeline.aclose()
        if self._generation is not None:
            await cancel_and_wait(self._generation.task)

    async def run(self) -> None:
        handle = self._handle
        try:
            self.start_llm()
            await self._wait_authorized()
            if handle.interrupted:
                await self.cancel_generation()
                return
            while True:
                assert self._generation is not None
                outcome = await self._run_step(self._generation)
                if outcome is None:
                    break
                self._generation = outcome
        except asyncio.CancelledError:
            raise
        except Exception as e:
            logger.exception("reply %s failed", handle.id)
            handle._mark_done(e)
            self._session._report_error(e, source=self._agent)
        finally:
            await self.cancel_generation()
            handle._step_played.set()
            handle._playing = False
            handle._mark_done()

    async def _wait_authorized(self) -> None:
        handle = self._handle
        if handle.authorized:
            return
        if handle.interrupted:
            return
        auth = asyncio.ensure_future(handle.wait_authorized())
        try:
            # asyncio.wait never cancels what it waits on: the interrupt future is shared
            await asyncio.wait([auth, handle._interrupt_fut], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(auth)

    # ------------------------------------------------------------------ one step

    async def _run_step(self, gen: Generation) -> Generation | None:
        session = self._session
        handle = self._handle
        step = await self._play(gen)
        if gen.task is not None and not handle.interrupted:
            await asyncio.gather(gen.task, return_exceptions=True)
            if gen.task.done() and not gen.task.cancelled() and gen.task.exception():
                raise gen.task.exception()  # type: ignore[misc]
        session._emit_llm_metrics(gen, handle, cancelled=handle.interrupted)

        message = self._commit_message(step, gen)
        handle._step_played.set()
        calls = list(gen.tool_calls) if self._say_text is None else []
        if calls and self._tool_choice == "none":
            # the model was told not to call tools: a call now would loop past max_tool_steps
            logger.warning("ignoring %d tool call(s) made with tool_choice='none'", len(calls))
            calls = []
        if not calls:
            return None
        handle._playing = False  # speaking -> thinking while the tools run
        # give the floor back: a tool may wait for other speech (an AgentTask asking a question)
        tool_phase = session._scheduler.tool_phase if session._scheduler else set()
        tool_phase.add(handle)
        handle._release()
        session._update_agent_state()
        try:
            outcomes = await self._run_tools(calls, message)
            next_gen = self._next_step(outcomes, message)
        finally:
            tool_phase.discard(handle)
        if next_gen is None:
            return None
        session._requeue(handle)
        await self._wait_authorized()
        if handle.interrupted:
            await cancel_and_wait(next_gen.task)
            return None
        return next_gen

    async def _play(self, gen: Generation) -> StepResult:
        session = self._session
        handle = self._handle
        audio_out = session.output.audio if session.output.audio_enabled else None
        text_out = session.output.transcription if session.output.transcription_enabled else None
        use_audio = self._uses_audio()
        full_text: list[str] = []
        heard_parts: list[str] = []
        interrupted = False
        played_any = False
        started_at: float | None = None
        stopped_at: float | None = None
        tts_ttfb: float | None = None
        settings = ModelSettings(tool_choice=self._tool_choice)
        early, self._early_segment = self._early_segment, None

        while not interrupted:
            if early is not None:
                seg: SegmentPipeline | None = await early
                early = None
                if seg is None:
                    break
            else:
                try:
                    chan = await self._recv_or_interrupt(gen.segments)
                except ChanClosed:
                    break
                if chan is None:
                    interrupted = True
                    break
                seg = self._new_segment(chan, settings)
            if not use_audio:
                transcriber = asyncio.get_running_loop().create_task(
                    self._forward_transcript(seg.transcript, text_out, settings, None)
                )
                await self._wait_or_interrupt(seg.reader)
                interrupted = handle.interrupted
                await seg.aclose()
                await asyncio.gather(transcriber, return_exceptions=True)
                text = seg.text
                full_text.append(text)
                heard_parts.append(text if not interrupted else "")
                if text:
                    played_any = True
                    started_at = started_at or now()
                continue

            assert audio_out is not None
            sync = TranscriptSynchronizer(
                speed_factor=session.output.transcription_speed_factor,
                sync=session.output.sync_transcription,
            )
            detach = sync.attach(audio_out)
            handle._transcript_sync = sync
            # aligned: the transcript comes from the TTS's word timings, not the LLM text
            aligned: Chan[str] | None = Chan() if self._aligned_transcript() else None
            forward_state = _ForwardState(sync=sync, aligned=aligned)
            try:
                transcriber = asyncio.get_running_loop().create_task(
                    self._forward_transcript(
                        aligned if aligned is not None else seg.transcript,
                        text_out,
                        settings,
                        sync,
                    )
                )
                forwarder = asyncio.get_running_loop().create_task(
                    self._forward_audio(seg.iter_frames(), forward_state)
                )
                played_task = asyncio.get_running_loop().create_task(
                    self._forward_then_playout(forwarder, forward_state)
                )
                await self._wait_or_interrupt(played_task)
                if handle.interrupted and not played_task.done():
                    interrupted = True
                    await cancel_and_wait(forwarder)
                    session._output_frames.reset()
                    if forward_state.captured:
                        audio_out.clear_buffer()
                        ev = await audio_out.wait_for_playout()
                        position = ev.playback_position
                    else:
                        position = 0.0
                        sync.on_playback_finished(0.0, interrupted=True)
                    await cancel_and_wait(played_task)
                else:
                    ev = played_task.result()  # re-raises a TTS failure
                    position = ev.playback_position
                    interrupted = ev.interrupted
                heard = sync.synchronized_transcript()
                await seg.aclose()
                await asyncio.gather(transcriber, return_exceptions=True)
            finally:
                detach()
                sync.close()
                handle._transcript_sync = None
            if tts_ttfb is None:
                tts_ttfb = seg.tts_ttfb
            text = seg.text
            full_text.append(text)
            if position > 0:
                played_any = True
                if started_at is None:
                    started_at = handle._playback_started_at or (now() - position)
                stopped_at = now()
            heard_parts.append(heard if interrupted else text)
            forward_state.first_frame_at = seg.first_frame_at
            session._emit_tts_metrics(
                text, forward_state, ttfb=seg.tts_ttfb, cancelled=interrupted, speech_id=handle.id
            )
        if interrupted or handle.interrupted:
            interrupted = True
        return StepResult(
            text="".join(full_text),
            heard="".join(heard_parts).strip() if interrupted else "".join(full_text).strip(),
            interrupted=interrupted,
            played_any=played_any,
            started_speaking_at=started_at,
            stopped_speaking_at=stopped_at or (now() if played_any else None),
            tts_ttfb=tts_ttfb,
        )

    def _aligned_transcript(self) -> bool:
        """Use the TTS's word timings when asked to and the TTS has them; otherwise the
        synchronizer estimates the pace from the text and the audio."""
        agent_value = self._agent.use_tts_aligned_transcript
        wanted = agent_value if is_given(agent_value) else self._session._use_tts_aligned_transcript
        tts = self._session._resolve_tts(self._agent)
        return bool(wanted) and tts is not None and tts.capabilities.aligned_transcript

    def _uses_audio(self) -> bool:
        session = self._session
        audio_out = session.output.audio if session.output.audio_enabled else None
        return audio_out is not None and (
            self._say_audio is not None or session._resolve_tts(self._agent) is not None
        )

    def _new_segment(self, chan: Chan[str], settings: ModelSettings) -> SegmentPipeline:
        return SegmentPipeline(
            self._agent,
            chan,
            settings,
            synthesize=self._uses_audio(),
            audio=self._say_audio,
            text_transforms=self._session.tts_text_transforms,
        )

    def start_tts_early(self) -> None:
        """Preemptive TTS: synthesize the first segment before the speech is authorized."""
        gen = self._generation
        if gen is None or self._early_segment is not None:
            return
        settings = ModelSettings(tool_choice=self._tool_choice)

        async def first_segment() -> SegmentPipeline | None:
            try:
                chan = await gen.segments.recv()
            except ChanClosed:
                return None
            return self._new_segment(chan, settings)

        self._early_segment = asyncio.get_running_loop().create_task(first_segment())

    async def _recv_or_interrupt(self, chan: Chan[Chan[str]]) -> Chan[str] | None:
        if self._handle.interrupted:
            return None
        if chan.ready():
            return chan.recv_nowait()
        recv: asyncio.Future[Any] = asyncio.ensure_future(chan.recv())
        interrupted: asyncio.Future[Any] = self._handle._interrupt_fut
        await asyncio.wait([recv, interrupted], return_when=asyncio.FIRST_COMPLETED)
        if recv.done():
            result: Chan[str] = recv.result()
            return result
        await cancel_and_wait(recv)
        return None

    async def _wait_or_interrupt(self, task: asyncio.Future[Any]) -> None:
        await asyncio.wait([task, self._handle._interrupt_fut], return_when=asyncio.FIRST_COMPLETED)

    async def _forward_audio(
        self, frames: AsyncIterable[AudioFrame] | None, state: _ForwardState
    ) -> None:
        audio_out = self._session.output.audio
        if frames is None or audio_out is None:
            return
        try:
            await self._forward_frames(frames, state, audio_out)
        except Exception as e:
            if not hasattr(e, "_voxline_source"):
                e._voxline_source = "tts"  # type: ignore[attr-defined]
            raise

    async def _forward_frames(
        self, frames: AsyncIterable[AudioFrame], state: _ForwardState, audio_out: Any
    ) -> None:
        async for frame in frames:
            frame = self._session._prepare_output_frame(frame)
            if state.first_frame_at is None:
                state.first_frame_at = now()
            state.captured = True
            state.pushed_duration += frame.duration
            await audio_out.capture_frame(frame)
            if state.sync is not None:
                state.sync.push_audio(frame)
            if state.aligned is not None:
                timed = frame.userdata.get(TIMED_TRANSCRIPT_KEY)
                if isinstance(timed, list):
                    for piece in timed:
                        state.aligned.send_nowait(piece)

    async def _forward_then_playout(
        self, forwarder: asyncio.Task[None], state: _ForwardState
    ) -> Any:
        from .io import PlaybackFinishedEvent

        audio_out = self._session.output.audio
        try:
            await forwarder
        finally:
            if state.aligned is not None:
                state.aligned.close()
        if audio_out is not None and state.captured:
            for tail in self._session._output_frames.flush():
                state.pushed_duration += tail.duration
                await audio_out.capture_frame(tail)
                if state.sync is not None:
                    state.sync.push_audio(tail)
        if state.sync is not None:
            state.sync.end_audio()
        if audio_out is None or not state.captured:
            if state.sync is not None:
                state.sync.on_playback_finished(0.0, interrupted=False)
            return PlaybackFinishedEvent(0.0, False)
        audio_out.flush()
        return await audio_out.wait_for_playout()

    async def _forward_transcript(
        self,
        text: Chan[str],
        text_out: Any,
        settings: ModelSettings,
        sync: TranscriptSynchronizer | None,
    ) -> None:
        """transcription_node's text goes to the text output; with audio, through the
        synchronizer, so the user reads what they hear as they hear it."""
        node = self._agent.transcription_node(text, settings)
        if node is None:
            async for _ in text:
                pass
            if sync is not None:
                sync.end_text()
            return
        if sync is None:
            async for piece in node:
                if text_out is not None:
                    await text_out.capture_text(piece)
        else:

            async def feed() -> None:
                try:
                    async for piece in node:
                        sync.push_text(piece)
                finally:
                    sync.end_text()

            feeder = asyncio.get_running_loop().create_task(feed())
            try:
                async for delta in sync:
                    if text_out is not None:
                        await text_out.capture_text(delta)
            finally:
                await cancel_and_wait(feeder)
        if text_out is not None:
            text_out.flush()

    # ------------------------------------------------------------------ commit

    def _commit_message(self, step: StepResult, gen: Generation) -> ChatMessage | None:
        session = self._session
        handle = self._handle
        text = step.heard if step.interrupted else step.text.strip()
        if not text or not self._add_to_chat_ctx:
            return None  # never commit an empty assistant message
        metrics: dict[str, float] = {}
        if gen.ttft is not None and self._say_text is None:
            metrics["llm_node_ttft"] = gen.ttft
        if step.tts_ttfb is not None:
            metrics["tts_node_ttfb"] = step.tts_ttfb
        if step.started_speaking_at is not None:
            metrics["started_speaking_at"] = step.started_speaking_at
        if step.stopped_speaking_at is not None:
            metrics["stopped_speaking_at"] = step.stopped_speaking_at
        user = self._user_message
        if user is not None and step.started_speaking_at is not None:
            stopped = user.metrics.get("stopped_speaking_at")
            if stopped is not None:
                metrics["e2e_latency"] = step.started_speaking_at - stopped
        msg = ChatMessage(
            role="assistant",
            content=[text],
            interrupted=step.interrupted,
            metrics=metrics,
            created_at=step.started_speaking_at or self._created_at,
        )
        handle._chat_items.append(msg)
        session._commit_item(self._agent, msg)
        return msg

    async def _run_tools(
        self, calls: list[FunctionToolCall], message: ChatMessage | None = None
    ) -> list[ToolOutcome]:
        session = self._session
        handle = self._handle
        session._tools_running += 1
        session._update_agent_state()
        try:
            tasks = [
                asyncio.get_running_loop().create_task(
                    run_tool_call(session, handle, call, self._tools)
                )
                for call in calls
            ]
            # tool results are committed even if the speech is interrupted meanwhile
            try:
                outcomes = list(await asyncio.shield(asyncio.gather(*tasks)))
            except asyncio.CancelledError:
                # the session is closing: keep every result that exists, cancel the rest
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                finished = [t.result() for t in tasks if t.done() and not t.cancelled()]
                self._commit_outcomes(finished, message)
                raise
        finally:
            session._tools_running -= 1
        self._commit_outcomes(outcomes, message)
        return outcomes

    def _commit_outcomes(
        self, outcomes: list[ToolOutcome], message: ChatMessage | None = None
    ) -> None:
        session = self._session
        handle = self._handle
        for outcome in outcomes:
            if outcome.new_agent is not None and handle.interrupted and outcome.output is not None:
                # the handoff will not happen: say so in the history the model reads
                outcome.output.output = (
                    f"The handoff to {outcome.new_agent.id} was interrupted and did not happen."
                )
                outcome.output.is_error = True
            if outcome.output is not None:
                # call and output stay adjacent, whatever was said while the tool ran, and
                # after the step's own message, so the history is valid for every provider
                outcome.call.created_at = outcome.output.created_at - 1e-6
                if message is not None and outcome.call.created_at < message.created_at:
                    outcome.call.created_at = message.created_at
                    outcome.output.created_at = max(outcome.output.created_at, message.created_at)
            handle._chat_items.append(outcome.call)
            session._commit_item(self._agent, outcome.call)
            if outcome.output is not None:
                handle._chat_items.append(outcome.output)
                session._commit_item(self._agent, outcome.output)
        session._emit_tools_executed(outcomes)
        session._update_agent_state()

    def _next_step(
        self, outcomes: list[ToolOutcome], message: ChatMessage | None
    ) -> Generation | None:
        session = self._session
        handle = self._handle
        new_agents = [o.new_agent for o in outcomes if o.new_agent is not None]
        if new_agents:
            if not handle.interrupted:
                session._schedule_handoff(new_agents[0])
            return None
        if handle.interrupted or not any(o.reply_required for o in outcomes):
            return None
        assert self._chat_ctx is not None
        ctx = self._chat_ctx.copy()
        if message is not None:
            ctx.insert(message)
        for o in outcomes:
            ctx.insert(o.call)
            if o.output is not None:
                ctx.insert(o.output)
        self._chat_ctx = ctx
        handle._next_step()
        tool_choice: ToolChoice | None = self._tool_choice
        if handle.num_steps > session.max_tool_steps or session._draining:
            tool_choice = "none"
        self._tool_choice = tool_choice
        session._update_agent_state()
        return start_generation(
            self._agent, ctx, self._tools, ModelSettings(tool_choice=tool_choice)
        )


@dataclass
class _ForwardState:
    sync: TranscriptSynchronizer | None = None
    aligned: Chan[str] | None = None
    captured: bool = False
    first_frame_at: float | None = None
    pushed_duration: float = 0.0
