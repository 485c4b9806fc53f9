"""Reference scenarios 5, 6, 7, 14 (tool part) and 15, and §3.3 on tools: slow tools, fillers,
background tools and the away timer, a goodbye tool that closes the session, tools hidden
during on_enter, results kept through interruptions, capture_run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.timeline import approx, record
from voxline import Agent, AgentSession, RunContext, ToolFlag, function_tool
from voxline.llm import FunctionToolCall, Toolset
from voxline.testing import FakeActions, FakeAudioOutput, FakeLLM, create_session, run_session


def _call(name: str, arguments: str = "{}", call_id: str = "1") -> FunctionToolCall:
    return FunctionToolCall(name=name, arguments=arguments, call_id=call_id)


def _script(tool: str, reply_to: str | None, reply: str = "Here you go.") -> FakeActions:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "Look it up please")
    actions.add_llm("Let me look.", tool_calls=[_call(tool)])
    actions.add_tts(1.0)
    if reply_to is not None:
        actions.add_llm(reply, input=reply_to)
        actions.add_tts(1.0)
    return actions


class SlowTools(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Look things up.")

    @function_tool
    async def slow_with_filler(self, ctx: RunContext[Any]) -> str:
        """A slow lookup that fills the silence."""
        async with ctx.with_filler("Just a moment.", delay=0.5):
            await asyncio.sleep(8.0)
        return "found it"

    @function_tool
    async def slow_silent(self) -> None:
        """A slow action with nothing to say afterwards."""
        await asyncio.sleep(8.0)

    @function_tool
    async def background(self, ctx: RunContext[Any]) -> str:
        """A long job that reports progress."""
        await ctx.update("looking it up")
        await asyncio.sleep(20.0)
        return "the answer is 42"

    @function_tool
    async def background_silent(self, ctx: RunContext[Any]) -> None:
        """A long job with no result to speak."""
        await ctx.update("working on it")
        await asyncio.sleep(20.0)


@pytest.mark.virtual_time
async def test_slow_tool_keeps_the_agent_thinking_after_its_filler() -> None:
    actions = _script("slow_with_filler", "found it")
    actions.add_tts(1.0, input="Just a moment.")
    session = create_session(actions, extra_kwargs={"user_away_timeout": 3.0})
    timeline = record(session)
    timeline.origin = await run_session(session, SlowTools(), drain_delay=12.0)
    out_of_speaking = [b for a, b, _ in timeline.agent_states() if a == "speaking"]
    assert out_of_speaking == ["thinking", "thinking", "listening"]
    assert "away" not in [b for _, b, _ in timeline.user_states()][:-1]
    thinking_after_filler = [
        t for a, b, t in timeline.agent_states() if (a, b) == ("speaking", "thinking")
    ]
    assert approx(thinking_after_filler[1], 4.5 + 0.5 + 0.2 + 1.0)  # filler 5.2 - 6.2


@pytest.mark.virtual_time
async def test_tool_without_a_reply_returns_the_agent_to_listening() -> None:
    session = create_session(_script("slow_silent", None))
    timeline = record(session)
    timeline.origin = await run_session(session, SlowTools(), drain_delay=12.0)
    transitions = [(a, b) for a, b, _ in timeline.agent_states()]
    assert transitions[-2:] == [("speaking", "thinking"), ("thinking", "listening")]
    assert approx(timeline.agent_states()[-1][2], 4.5 + 8.0)


@pytest.mark.virtual_time
@pytest.mark.parametrize("tool", ["background", "background_silent"])
async def test_background_tool_defers_user_away_until_its_reply_lands(tool: str) -> None:
    update = "looking it up" if tool == "background" else "working on it"
    actions = _script(tool, update, reply="I am on it.")
    result = "The background call background({}) finished: the answer is 42"
    actions.add_llm("It is 42.", input=result)
    actions.add_tts(1.0)
    session = create_session(actions, extra_kwargs={"user_away_timeout": 3.0})
    timeline = record(session)
    timeline.origin = await run_session(session, SlowTools(), drain_delay=30.0)
    aways = [t for _, b, t in timeline.user_states() if b == "away"]
    assert len(aways) == 1
    tool_done = 4.5 + 20.0  # the tool started after the preamble played
    if tool == "background":
        said = [
            i.text_content
            for i in timeline.items()
            if i.type == "message" and i.role == "assistant"
        ]
        assert said == ["Let me look.", "I am on it.", "It is 42."]
        assert aways[0] >= tool_done + 1.2 + 3.0 - 0.05  # after the deferred reply played
    else:
        assert aways[0] >= tool_done + 3.0 - 0.05
    session.history.to_openai()


class Goodbye(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Say goodbye when asked.")

    @function_tool
    async def goodbye(self, ctx: RunContext[Any]) -> None:
        """End the call."""
        await ctx.wait_for_playout()
        await ctx.session.generate_reply(instructions="Say a warm goodbye")
        await ctx.session.aclose()


@pytest.mark.virtual_time
async def test_goodbye_tool_speaks_then_closes_the_session() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "bye")
    actions.add_llm("Okay.", tool_calls=[_call("goodbye")])
    actions.add_tts(1.0)
    actions.add_llm("Goodbye, take care!", input="Say a warm goodbye")
    actions.add_tts(3.0)
    session = create_session(actions)
    timeline = record(session)
    timeline.origin = await run_session(session, Goodbye(), drain_delay=20.0)
    closes = timeline.of("close")
    assert len(closes) == 1 and approx(timeline.at(closes[0]), 2.0 + 0.5 + 1.0 + 0.5 + 3.0)
    audio = session.output.audio
    assert isinstance(audio, FakeAudioOutput)
    assert [
        (round(e.playback_position, 1), e.interrupted) for e in audio.playback_finished_events
    ] == [
        (1.0, False),
        (3.0, False),
    ]
    said = [
        i.text_content
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]
    assert said == ["Okay.", "Goodbye, take care!"]


@function_tool(flags=ToolFlag.IGNORE_ON_ENTER)
async def end_call() -> None:
    """Hang up."""


class Hider(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="Greet.", tools=[end_call, Toolset(id="extra", tools=[_hidden_in_set])]
        )

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="greet")

    @function_tool
    async def lookup(self) -> str:
        """Look something up."""
        return "looked up"


@function_tool(flags=ToolFlag.IGNORE_ON_ENTER)
async def _hidden_in_set() -> None:
    """Also hidden on enter."""


@pytest.mark.virtual_time
async def test_ignore_on_enter_tools_are_hidden_during_on_enter_replies() -> None:
    actions = FakeActions()
    actions.add_llm("Hello!", input="greet", tool_calls=[_call("lookup")])
    actions.add_llm("All set.", input="looked up")
    actions.add_user_speech(3.0, 4.0, "thanks")
    actions.add_llm("Bye.")
    seen: list[list[str]] = []

    class Spy(FakeLLM):
        def chat(self, *, tools: Any = None, **kwargs: Any) -> Any:
            seen.append(sorted(t.name for t in tools or []))
            return super().chat(tools=tools, **kwargs)

    session = create_session(actions, extra_kwargs={"llm": Spy(actions)})
    await run_session(session, Hider())
    assert seen == [
        ["lookup"],  # the on_enter reply
        ["lookup"],  # its nested tool step
        ["_hidden_in_set", "end_call", "lookup"],  # a normal user turn
    ]


class Payments(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Take payments.")
        self.charged = 0

    @function_tool
    async def charge_card(self, amount: int) -> str:
        """Charge the card."""
        await asyncio.sleep(2.0)
        self.charged += amount
        return f"charged {amount}"

    @function_tool
    async def transfer(self) -> Agent:
        """Transfer to another desk."""
        return Agent(instructions="Other desk.")


@pytest.mark.virtual_time
@pytest.mark.parametrize("interrupt_at", [3.2, 4.0, 5.0, 7.0])
async def test_tool_results_survive_interruptions(interrupt_at: float) -> None:
    """Interrupted before the preamble plays, during it, while the tool runs, or after."""
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "Charge me 10")
    actions.add_llm("Charging now.", tool_calls=[_call("charge_card", '{"amount": 10}', "c1")])
    actions.add_tts(1.5)
    actions.add_llm("Done, you were charged.", input="charged 10")
    actions.add_tts(2.0)
    session = create_session(actions)
    agent = Payments()

    async def interrupt() -> None:
        origin = await session.input.audio.wait_first_frame()  # type: ignore[union-attr]
        await asyncio.sleep(origin + interrupt_at - asyncio.get_running_loop().time())
        session.interrupt()

    task = asyncio.get_running_loop().create_task(interrupt())
    await run_session(session, agent, drain_delay=10.0)
    await task
    outputs = [i for i in session.history.items if i.type == "function_call_output"]
    calls = [i for i in session.history.items if i.type == "function_call"]
    session.history.to_openai()
    if interrupt_at < 3.3:
        # interrupted while the model was still writing: its tool call never existed
        assert agent.charged == 0 and calls == [] and outputs == []
        return
    assert agent.charged == 10
    assert [c.call_id for c in calls] == ["c1"] and [o.output for o in outputs] == ["charged 10"]


@pytest.mark.virtual_time
async def test_interrupted_handoff_is_recorded_as_failed() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "Transfer me")
    actions.add_llm("Transferring you now.", tool_calls=[_call("transfer", call_id="t1")])
    actions.add_tts(3.0)
    session = create_session(actions)
    agent = Payments()

    async def interrupt() -> None:
        origin = await session.input.audio.wait_first_frame()  # type: ignore[union-attr]
        await asyncio.sleep(origin + 4.0 - asyncio.get_running_loop().time())
        session.interrupt()

    task = asyncio.get_running_loop().create_task(interrupt())
    await run_session(session, agent)
    await task
    assert session.current_agent is agent
    outputs = [i for i in session.history.items if i.type == "function_call_output"]
    assert len(outputs) == 1 and outputs[0].is_error and "did not happen" in outputs[0].output


class Welcomer(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Welcome.")

    async def on_enter(self) -> None:
        self.session.say("Welcome!")
        self.session.generate_reply(instructions="offer help")


@pytest.mark.virtual_time
async def test_start_with_capture_run_records_on_enter_speech() -> None:
    actions = FakeActions()
    actions.add_llm("How can I help?", input="offer help")
    session: AgentSession[Any] = AgentSession(llm=FakeLLM(actions))
    result = await session.start(Welcomer(), capture_run=True)
    texts = [i.text_content for i in result.items if i.type == "message"]
    assert texts == ["Welcome!", "How can I help?"]
    silent = AgentSession[Any](llm=FakeLLM(actions))
    quiet = await silent.start(Agent(instructions="Say nothing."), capture_run=True)
    assert [i for i in quiet.items if i.type == "message"] == []
    await session.aclose()
    await silent.aclose()
