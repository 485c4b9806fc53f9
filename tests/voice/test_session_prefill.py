"""Prompt prefill: a local LLM (one with an async `prefill(chat_ctx, tools)`) is asked to
read the conversation into its prompt cache ahead of the next request. The session asks for
the history once the agent is done speaking, and for the user's words so far while they
still speak; `PromptPrefiller` runs those one at a time, newest first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from support.timeline import approx
from voxline import Agent, AgentSession, ChatContext
from voxline._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from voxline._utils.aio import Chan, SegmentEnd, TaskSet
from voxline.audio import AudioFrame
from voxline.llm import Tool
from voxline.stt import (
    STT,
    RecognizeStream,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    STTCapabilities,
)
from voxline.testing import FakeActions, FakeLLM, create_session, run_session
from voxline.voice.prompt_prefill import PromptPrefiller, can_prefill

Messages = list[tuple[str, str]]


def messages(chat_ctx: ChatContext) -> Messages:
    """(role, text) of the chat's messages, the way a prompt reads them."""
    return [
        (item.role, item.text_content or "") for item in chat_ctx.items if item.type == "message"
    ]


def _ctx(text: str) -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="user", content=text)
    return ctx


# ------------------------------------------------------------------ PromptPrefiller


class CacheLLM:
    """Stands in for a local model: each prefill takes `delay` seconds of loop time and
    records what it read and when."""

    def __init__(self, delay: float = 1.0, *, fail_first: bool = False) -> None:
        self.delay = delay
        self.fail_first = fail_first
        self.calls: list[tuple[float, str]] = []
        self.running = 0
        self.most_running = 0

    async def prefill(self, chat_ctx: ChatContext, tools: Sequence[Tool]) -> None:
        loop = asyncio.get_running_loop()
        self.calls.append((round(loop.time(), 3), messages(chat_ctx)[-1][1]))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.running -= 1
        if self.fail_first and len(self.calls) == 1:
            raise RuntimeError("the model server went away")


@pytest.mark.virtual_time
async def test_a_request_while_one_runs_replaces_the_waiting_one() -> None:
    """llama.cpp cannot stop reading a prompt midway, so the running prefill finishes;
    of the requests made meanwhile only the newest is worth reading (the older ones are
    prefixes of the conversation as it is now)."""
    tasks, llm = TaskSet(), CacheLLM(delay=1.0)
    prefiller = PromptPrefiller(tasks)
    prefiller.request(llm, _ctx("one"), [])
    await asyncio.sleep(0.25)
    prefiller.request(llm, _ctx("one two"), [])
    prefiller.request(llm, _ctx("one two three"), [])
    await asyncio.sleep(3.0)
    assert llm.calls == [(0.0, "one"), (1.0, "one two three")]
    assert llm.most_running == 1
    assert prefiller.completed == 2
    await tasks.aclose()


@pytest.mark.virtual_time
async def test_requests_before_the_first_one_starts_collapse_into_the_last() -> None:
    tasks, llm = TaskSet(), CacheLLM(delay=1.0)
    prefiller = PromptPrefiller(tasks)
    for text in ("a", "a b", "a b c"):
        prefiller.request(llm, _ctx(text), [])
    await asyncio.sleep(3.0)
    assert llm.calls == [(0.0, "a b c")]
    await tasks.aclose()


@pytest.mark.virtual_time
async def test_a_request_after_the_queue_ran_dry_starts_at_once() -> None:
    tasks, llm = TaskSet(), CacheLLM(delay=0.5)
    prefiller = PromptPrefiller(tasks)
    prefiller.request(llm, _ctx("first"), [])
    await asyncio.sleep(2.0)
    prefiller.request(llm, _ctx("second"), [])
    await asyncio.sleep(2.0)
    assert llm.calls == [(0.0, "first"), (2.0, "second")]
    await tasks.aclose()


@pytest.mark.virtual_time
async def test_cancel_pending_drops_the_waiting_request_only() -> None:
    """The real request is about to go out: a prefill that has not started would only
    delay it, one that runs already is left to finish."""
    tasks, llm = TaskSet(), CacheLLM(delay=1.0)
    prefiller = PromptPrefiller(tasks)
    prefiller.request(llm, _ctx("running"), [])
    await asyncio.sleep(0.25)
    prefiller.request(llm, _ctx("waiting"), [])
    prefiller.cancel_pending()
    await asyncio.sleep(3.0)
    assert llm.calls == [(0.0, "running")]
    assert prefiller.completed == 1
    await tasks.aclose()


@pytest.mark.virtual_time
async def test_a_failed_prefill_is_forgotten_and_later_ones_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A prefill only buys speed: its failure must neither surface nor stop the next."""
    caplog.set_level(logging.DEBUG, logger="voxline.prefill")
    tasks, llm = TaskSet(), CacheLLM(delay=0.5, fail_first=True)
    prefiller = PromptPrefiller(tasks)
    prefiller.request(llm, _ctx("boom"), [])
    await asyncio.sleep(0.25)
    prefiller.request(llm, _ctx("queued behind the failure"), [])
    await asyncio.sleep(2.0)
    prefiller.request(llm, _ctx("later"), [])
    await asyncio.sleep(2.0)
    assert [text for _, text in llm.calls] == ["boom", "queued behind the failure", "later"]
    assert prefiller.completed == 2
    assert "the model server went away" in caplog.text
    await tasks.aclose()


@pytest.mark.virtual_time
async def test_llms_without_an_async_prefill_are_ignored() -> None:
    class Remote:
        """A hosted model: nothing to prefill."""

    class SyncPrefill:
        def __init__(self) -> None:
            self.calls = 0

        def prefill(self, chat_ctx: ChatContext, tools: Sequence[Tool]) -> None:
            self.calls += 1

    tasks = TaskSet()
    prefiller = PromptPrefiller(tasks)
    sync = SyncPrefill()
    for llm in (Remote(), sync, None):
        prefiller.request(llm, _ctx("hello"), [])
    assert tasks.tasks == set()  # nothing was even scheduled
    await asyncio.sleep(1.0)
    assert sync.calls == 0 and prefiller.completed == 0
    assert not can_prefill(Remote()) and not can_prefill(sync) and can_prefill(CacheLLM())


# ------------------------------------------------------------------ in a session


class PrefillingLLM(FakeLLM):
    """FakeLLM that also keeps a prompt cache: records each prefill's messages and time."""

    def __init__(self, actions: FakeActions, *, delay: float = 0.1) -> None:
        super().__init__(actions)
        self.actions = actions
        self.delay = delay
        self.prefills: list[tuple[float, Messages]] = []

    async def prefill(self, chat_ctx: ChatContext, tools: Sequence[Tool]) -> None:
        self.prefills.append((asyncio.get_running_loop().time(), messages(chat_ctx)))
        await asyncio.sleep(self.delay)


class ScriptedSTT(STT):
    """Streaming STT sending scripted (time, type, text) events, timed from its first
    audio frame like the other fakes: here, interims while the user is still speaking,
    as a local STT's interim passes (see stt.StreamAdapter's interim_interval) send them."""

    def __init__(self, script: list[tuple[float, SpeechEventType, str]]) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=True, interim_results=True))
        self.script = script

    def stream(
        self,
        *,
        language: str | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        return _ScriptedSTTStream(self)


class _ScriptedSTTStream(RecognizeStream):
    async def _run(self, frames: Chan[AudioFrame | SegmentEnd]) -> None:
        stt = self._stt
        assert isinstance(stt, ScriptedSTT)
        loop = asyncio.get_running_loop()
        handles: list[asyncio.TimerHandle] = []
        try:
            async for frame in frames:
                if handles or not isinstance(frame, AudioFrame):
                    continue
                origin = loop.time()
                for at, kind, text in stt.script:
                    alternatives = [SpeechData(language="en", text=text)] if text else []
                    event = SpeechEvent(kind, alternatives)
                    handles.append(loop.call_at(origin + at, self._emit, event))
        finally:
            for handle in handles:
                handle.cancel()


QUESTION = "what is the weather in Paris"


def _weather_actions() -> FakeActions:
    """The user asks 0.5-2.5 s; the answer is written in 0.3 s and plays for 1 s."""
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, QUESTION)
    actions.add_llm("It is sunny.")
    actions.add_tts(1.0)
    return actions


def _interims_stt() -> ScriptedSTT:
    """Interims at 1.2 s and 1.9 s, while the VAD hears speech (0.5-2.5 s); the final
    0.2 s after the user stopped."""
    return ScriptedSTT(
        [
            (0.5, SpeechEventType.START_OF_SPEECH, ""),
            (1.2, SpeechEventType.INTERIM_TRANSCRIPT, "what is the"),
            (1.9, SpeechEventType.INTERIM_TRANSCRIPT, "what is the weather"),
            (2.7, SpeechEventType.FINAL_TRANSCRIPT, QUESTION),
            (2.7, SpeechEventType.END_OF_SPEECH, ""),
        ]
    )


async def _converse(llm: PrefillingLLM, *, preemptive: bool, stt: STT | None = None) -> float:
    session: AgentSession[Any] = create_session(
        llm.actions,
        turn_handling={"preemptive_generation": {"enabled": preemptive}},
        extra_kwargs={"llm": llm, **({"stt": stt} if stt is not None else {})},
    )
    return await run_session(session, Agent(instructions="Be brief."), drain_delay=4.0)


@pytest.mark.virtual_time
async def test_after_a_reply_the_history_and_an_empty_user_message_are_prefilled() -> None:
    """Once the agent is done speaking, the next request will be the history plus the
    user's next message: reading that much now leaves only the user's words for later.
    The empty message is the header of that next message."""
    llm = PrefillingLLM(_weather_actions())
    session: AgentSession[Any] = create_session(llm.actions, extra_kwargs={"llm": llm})
    states: list[tuple[str, float]] = []
    session.on("agent_state_changed", lambda ev: states.append((ev.new_state, ev.created_at)))
    origin = await run_session(session, Agent(instructions="Be brief."), drain_delay=4.0)
    assert len(llm.prefills) == 1
    at, read = llm.prefills[0]
    assert read == [
        ("system", "Be brief."),
        ("user", QUESTION),
        ("assistant", "It is sunny."),
        ("user", ""),
    ]
    assert [state for state, _ in states] == [
        "listening",
        "thinking",
        "speaking",
        "listening",
        "initializing",  # closed
    ]
    # asked exactly when the agent went back to listening after speaking
    assert approx(at, states[3][1])
    assert approx(at - origin, 4.5)  # the turn ends at 3.0 s, 1 s of audio from 3.5 s


@pytest.mark.virtual_time
async def test_interim_words_are_prefilled_while_the_user_speaks() -> None:
    """With preemptive generation on, each interim heard while the user speaks is read
    ahead as the user's message so far: the cores are idle meanwhile."""
    llm = PrefillingLLM(_weather_actions(), delay=0.1)
    origin = await _converse(llm, preemptive=True, stt=_interims_stt())
    partial = [(round(at - origin, 2), read) for at, read in llm.prefills if read[-1][1]]
    assert [(at, read[-1]) for at, read in partial] == [
        (1.2, ("user", "what is the")),
        (1.9, ("user", "what is the weather")),
    ]
    assert all(read[:-1] == [("system", "Be brief.")] for _, read in partial)
    # and the usual history prefill after the reply
    assert llm.prefills[-1][1][-2:] == [("assistant", "It is sunny."), ("user", "")]


@pytest.mark.virtual_time
async def test_no_interim_prefill_with_preemptive_generation_off() -> None:
    """Reading partial words is speculative work, so it follows the preemptive setting;
    the history prefill after a reply is not speculative and still happens."""
    llm = PrefillingLLM(_weather_actions())
    await _converse(llm, preemptive=False, stt=_interims_stt())
    assert [read[-1] for _, read in llm.prefills] == [("user", "")]


@pytest.mark.virtual_time
async def test_interims_in_a_pause_are_not_prefilled() -> None:
    """FakeSTT sends its interim 0.1 s after the speech stopped, while the VAD counts the
    silence: the end-of-turn work is about to need the cores then, and a prefill cannot be
    stopped once it runs."""
    llm = PrefillingLLM(_weather_actions())
    await _converse(llm, preemptive=True)  # FakeSTT: interim "what is" at 2.6 s
    assert [read[-1] for _, read in llm.prefills] == [("user", "")]
