"""Reference scenarios 14, 20, 21 and 25: replies from hooks, preemptive generation, stale
replies, and multi-segment replies split by FlushSentinel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from support.timeline import approx, record
from voxline import Agent, ChatContext, ChatMessage, FlushSentinel, ModelSettings
from voxline.llm import FunctionTool
from voxline.testing import FakeActions, FakeAudioOutput, create_session, run_session


def _audio(session: Any) -> FakeAudioOutput:
    audio = session.output.audio
    assert isinstance(audio, FakeAudioOutput)
    return audio


class GreeterAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Be helpful.")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Say hello to the user")

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        if new_message.text_content == "bye":
            self.session.say("Goodbye for now.")


@pytest.mark.virtual_time
async def test_generate_reply_and_say_from_hooks() -> None:
    actions = FakeActions()
    actions.add_llm("What can I do for you!", input="Say hello to the user")
    actions.add_tts(2.0)
    actions.add_user_speech(3.0, 4.0, "bye")
    actions.add_llm("Bye bye, have a nice day!")
    actions.add_tts(3.0)
    actions.add_tts(1.0, input="Goodbye for now.")
    session = create_session(actions)
    timeline = record(session)
    timeline.origin = await run_session(session, GreeterAgent())

    finished = _audio(session).playback_finished_events
    assert [(round(e.playback_position, 2), e.interrupted) for e in finished] == [
        (2.0, False),
        (1.0, False),
        (3.0, False),
    ]
    added = timeline.of("conversation_item_added")
    assert [(e.item.type, getattr(e.item, "role", None)) for e in added] == [
        ("agent_handoff", None),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
        ("message", "assistant"),
    ]
    times = [timeline.at(e) for e in added]
    assert approx(times[1], 2.5) and approx(times[2], 4.5)
    assert approx(times[3], 5.7) and approx(times[4], 8.9)
    assert added[3].item.text_content == "Goodbye for now."


async def _latency(turn_handling: dict[str, Any], agent_turn_handling: Any = None) -> float:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.0, "What time is it?", stt_delay=0.1)
    actions.add_llm("It is noon.", ttft=0.1, duration=0.3)
    actions.add_tts(3.0, ttfb=0.3)
    session = create_session(actions, turn_handling=turn_handling)
    timeline = record(session)
    agent = Agent(instructions="Tell the time.", turn_handling=agent_turn_handling)
    timeline.origin = await run_session(session, agent)
    listening = next(t for a, b, t in timeline.user_states() if b == "listening")
    speaking = next(t for a, b, t in timeline.agent_states() if b == "speaking")
    return speaking - listening


@pytest.mark.virtual_time
async def test_preemptive_generation_cuts_latency() -> None:
    off = await _latency({"preemptive_generation": {"enabled": False}})
    on = await _latency({"preemptive_generation": {"enabled": True}})
    assert approx(off, 0.6)  # EOU 2.5 -> LLM 0.3 -> TTS first audio 0.3
    assert approx(on, 0.3)  # the LLM ran on the final transcript at 2.1
    with_tts = await _latency({"preemptive_generation": {"enabled": True, "preemptive_tts": True}})
    assert approx(with_tts, 0.2)  # LLM done at 2.4, TTS audio buffered at 2.7, plays at once
    # agent-level options win over session-level ones, key by key
    assert approx(
        await _latency(
            {"preemptive_generation": {"enabled": True}},
            {"preemptive_generation": {"enabled": False}},
        ),
        0.6,
    )
    assert approx(
        await _latency(
            {"preemptive_generation": {"enabled": False}},
            {"preemptive_generation": {"enabled": True}},
        ),
        0.3,
    )


class SlowHookAgent(Agent):
    def __init__(self, delay: float) -> None:
        super().__init__(instructions="Tell stories.")
        self._delay = delay

    async def on_user_turn_completed(self, turn_ctx: ChatContext, new_message: ChatMessage) -> None:
        if self._delay:
            await asyncio.sleep(self._delay)


@pytest.mark.virtual_time
@pytest.mark.parametrize("preemptive", [False, True])
@pytest.mark.parametrize("delay", [0.0, 2.0])
async def test_interrupt_during_on_user_turn_completed(preemptive: bool, delay: float) -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.0, "Tell me a story")
    actions.add_user_speech(2.6, 3.2, "about a firefighter.")
    actions.add_llm("Here is a story about a firefighter...")
    actions.add_tts(2.0, ttfb=1.0)
    session = create_session(actions, turn_handling={"preemptive_generation": preemptive})
    timeline = record(session)
    agent = SlowHookAgent(delay)
    timeline.origin = await run_session(session, agent, drain_delay=8.0)
    states = [(a, b) for a, b, _ in timeline.agent_states()][1:]
    if delay == 0.0:
        assert states == [
            ("listening", "thinking"),
            ("thinking", "listening"),
            ("listening", "thinking"),
            ("thinking", "speaking"),
            ("speaking", "listening"),
        ]
    else:
        assert states == [
            ("listening", "thinking"),
            ("thinking", "speaking"),
            ("speaking", "listening"),
        ]
    items = [(i.type, getattr(i, "role", None)) for i in timeline.items()]
    assert items == [
        ("agent_handoff", None),
        ("message", "user"),
        ("message", "user"),
        ("message", "assistant"),
    ]
    assert timeline.items()[-1].text_content == "Here is a story about a firefighter..."


class FlushingAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Greet.")
        self.first_segment = "Hello there."

    async def llm_node(  # type: ignore[override]
        self, chat_ctx: ChatContext, tools: list[FunctionTool], model_settings: ModelSettings
    ) -> AsyncIterator[str | FlushSentinel]:
        yield self.first_segment
        yield FlushSentinel()
        await asyncio.sleep(0.2)
        yield " How are you?"


@pytest.mark.virtual_time
async def test_multi_segment_flush() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "Hi")
    actions.add_tts(2.0, input="Hello there.")
    actions.add_tts(2.0, input=" How are you?")
    session = create_session(actions)
    agent = FlushingAgent()
    timeline = record(session)
    timeline.origin = await run_session(session, agent)
    finished = _audio(session).playback_finished_events
    assert [(round(e.playback_position, 2), e.interrupted) for e in finished] == [
        (2.0, False),
        (2.0, False),
    ]
    assistants = [i for i in timeline.items() if i.type == "message" and i.role == "assistant"]
    assert [a.text_content for a in assistants] == ["Hello there. How are you?"]


@pytest.mark.virtual_time
async def test_multi_segment_flush_interrupted() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "Hi")
    long_first = "Hello there, it is lovely to meet you today."
    actions.add_tts(15.0, input=long_first)
    actions.add_tts(2.0, input=" How are you?")
    session = create_session(actions)
    timeline = record(session)

    async def interrupt_at_five() -> None:
        audio = session.input.audio
        origin = await audio.wait_first_frame()  # type: ignore[union-attr]
        await asyncio.sleep(origin + 10.0 - asyncio.get_running_loop().time())
        session.interrupt()

    task = asyncio.get_running_loop().create_task(interrupt_at_five())
    agent = FlushingAgent()
    agent.first_segment = long_first
    timeline.origin = await run_session(session, agent, drain_delay=10.0)
    await task
    finished = _audio(session).playback_finished_events
    assert len(finished) == 1 and finished[0].interrupted
    assert approx(finished[0].playback_position, 6.8)  # first audio at 3.2, stopped at 10.0
    assistants = [i for i in timeline.items() if i.type == "message" and i.role == "assistant"]
    assert len(assistants) == 1 and assistants[0].interrupted
    heard = assistants[0].text_content or ""
    assert heard and long_first.startswith(heard) and heard != long_first
    assert "How are you" not in heard


@pytest.mark.virtual_time
async def test_text_only_session_answers_text_input() -> None:
    from voxline import AgentSession
    from voxline.testing import FakeLLM

    actions = FakeActions()
    actions.add_llm("Paris.", input="What is the capital of France?")
    async with AgentSession(llm=FakeLLM(actions)) as session:
        await session.start(Agent(instructions="Answer briefly."))
        handle = session.generate_reply(user_input="What is the capital of France?")
        await handle
        texts = [(i.role, i.text_content) for i in session.history.items if i.type == "message"]
        assert texts == [("user", "What is the capital of France?"), ("assistant", "Paris.")]
        await asyncio.sleep(0.01)  # the state settles once the scheduler saw the speech end
        assert session.agent_state == "listening"


class FixedAnswer(Agent):
    """An llm_node that returns a plain string instead of streaming."""

    def __init__(self) -> None:
        super().__init__(instructions="Answer.")

    async def llm_node(  # type: ignore[override]
        self, chat_ctx: ChatContext, tools: list[FunctionTool], model_settings: ModelSettings
    ) -> str:
        return f"You said: {chat_ctx.items[-1].text_content}"  # type: ignore[union-attr]


@pytest.mark.virtual_time
async def test_llm_node_may_return_a_string() -> None:
    from voxline import AgentSession

    session: AgentSession[Any] = AgentSession()
    await session.start(FixedAnswer())
    await session.generate_reply(user_input="hello")
    said = [i.text_content for i in session.history.items if i.type == "message"]
    assert said == ["hello", "You said: hello"]
    await session.aclose()


@pytest.mark.virtual_time
async def test_update_instructions_and_chat_ctx_reach_the_model() -> None:
    from voxline import AgentSession
    from voxline.testing import FakeLLM

    actions = FakeActions()
    actions.add_llm("ok", input="hi")
    llm = FakeLLM(actions)
    session: AgentSession[Any] = AgentSession(llm=llm)
    agent = Agent(instructions="Old rules.")
    await session.start(agent)
    await agent.update_instructions("New rules.")
    ctx = agent.chat_ctx
    ctx.add_message(role="user", content="remember: blue")
    await agent.update_chat_ctx(ctx)
    await session.generate_reply(user_input="hi")
    sent = llm.requests[-1]
    first = sent.items[0]
    assert first.type == "message" and first.text_content == "New rules."
    texts = [i.text_content for i in sent.items if i.type == "message"]
    assert "remember: blue" in texts
    assert any(
        i.type == "agent_config_update" and i.instructions == "New rules."
        for i in session.history.items
    )
    await session.aclose()
