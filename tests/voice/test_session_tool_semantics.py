"""Tool return semantics, concurrency, authorization and max_tool_steps (reference §2.6)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxline import Agent, AgentSession, StopResponse, ToolError, function_tool
from voxline.llm import FunctionToolCall
from voxline.testing import FakeActions, FakeLLM


def _call(name: str, arguments: str = "{}", call_id: str = "1") -> FunctionToolCall:
    return FunctionToolCall(name=name, arguments=arguments, call_id=call_id)


class Desk(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Help.")
        self.started: dict[str, float] = {}

    @function_tool
    async def value(self) -> dict[str, int]:
        """Return a value."""
        return {"answer": 42}

    @function_tool
    async def nothing(self) -> None:
        """Return nothing."""

    @function_tool
    async def stop(self) -> str:
        """Answer without a reply."""
        raise StopResponse

    @function_tool
    async def refuse(self) -> str:
        """Fail in a way the model should read."""
        raise ToolError("the card was declined")

    @function_tool
    async def crash(self) -> str:
        """Fail unexpectedly."""
        raise RuntimeError("secret internal detail")

    @function_tool
    async def handoff_with_value(self) -> tuple[Agent, str]:
        """Hand off and report."""
        return Agent(instructions="Next desk."), "transferred"

    @function_tool
    async def slow(self, tag: str) -> str:
        """Take a second."""
        self.started[tag] = asyncio.get_running_loop().time()
        await asyncio.sleep(1.0)
        return tag


async def _run_tool(
    name: str, *, follow_up: str | None = None
) -> tuple[AgentSession[Any], FakeLLM]:
    actions = FakeActions()
    actions.add_llm("", input="go", tool_calls=[_call(name)])
    if follow_up is not None:
        actions.add_llm("ok", input=follow_up)
    llm = FakeLLM(actions)
    session: AgentSession[Any] = AgentSession(llm=llm)
    await session.start(Desk())
    await session.generate_reply(user_input="go")
    await asyncio.sleep(2.0)
    return session, llm


def _outputs(session: AgentSession[Any]) -> list[tuple[str, bool]]:
    return [
        (i.output, i.is_error) for i in session.history.items if i.type == "function_call_output"
    ]


@pytest.mark.virtual_time
@pytest.mark.parametrize(
    ("tool", "output", "is_error", "replies"),
    [
        ("value", '{"answer": 42}', False, True),
        ("nothing", "", False, False),
        ("stop", "", False, False),
        ("refuse", "the card was declined", True, True),
        ("crash", "An internal error occurred while running the tool.", True, True),
        ("handoff_with_value", "transferred", False, False),
    ],
)
async def test_return_semantics(tool: str, output: str, is_error: bool, replies: bool) -> None:
    session, llm = await _run_tool(tool, follow_up=output)
    assert _outputs(session) == [(output, is_error)]
    assert len(llm.requests) == (2 if replies else 1)
    if tool == "handoff_with_value":
        assert session.current_agent.instructions == "Next desk."
    await session.aclose()


@pytest.mark.virtual_time
async def test_calls_of_one_step_run_concurrently() -> None:
    actions = FakeActions()
    calls = [_call("slow", f'{{"tag": "{t}"}}', t) for t in ("a", "b", "c")]
    actions.add_llm("", input="go", tool_calls=calls)
    session: AgentSession[Any] = AgentSession(llm=FakeLLM(actions))
    agent = Desk()
    await session.start(agent)
    start = asyncio.get_running_loop().time()
    await session.generate_reply(user_input="go")
    assert asyncio.get_running_loop().time() - start == pytest.approx(0.3 + 1.0)
    assert len(set(agent.started.values())) == 1
    assert [o for o, _ in _outputs(session)] == ["a", "b", "c"]
    await session.aclose()


@pytest.mark.virtual_time
async def test_tools_wait_for_their_speech_to_be_authorized() -> None:
    actions = FakeActions()
    actions.add_llm("", input="go", tool_calls=[_call("slow", '{"tag": "x"}')])
    actions.add_tts(5.0, input="Please hold.", ttfb=0.0)
    from voxline.testing import FakeAudioOutput, FakeTTS

    session: AgentSession[Any] = AgentSession(llm=FakeLLM(actions), tts=FakeTTS(actions))
    session.output.audio = FakeAudioOutput()
    agent = Desk()
    await session.start(agent)
    session.say("Please hold.")  # plays 0.0 - 5.0, ahead of the reply
    await session.generate_reply(user_input="go")
    assert agent.started["x"] == pytest.approx(5.0)
    await session.aclose()


@pytest.mark.virtual_time
async def test_max_tool_steps_forces_a_final_answer() -> None:
    actions = FakeActions()
    actions.add_llm("", input="go", tool_calls=[_call("value", call_id="s1")])
    actions.add_llm("", input='{"answer": 42}', tool_calls=[_call("value", call_id="s2")])
    llm = FakeLLM(actions)
    session: AgentSession[Any] = AgentSession(llm=llm, max_tool_steps=2)
    await session.start(Desk())
    await session.generate_reply(user_input="go")
    assert llm.tool_choices == [None, None, "none"]
    await session.aclose()


@pytest.mark.virtual_time
async def test_session_tools_are_shared_by_every_agent() -> None:
    @function_tool
    async def shared_clock() -> str:
        """Tell the time."""
        return "noon"

    actions = FakeActions()
    actions.add_llm("", input="go", tool_calls=[_call("shared_clock")])
    actions.add_llm("It is noon.", input="noon")
    session: AgentSession[Any] = AgentSession(llm=FakeLLM(actions), tools=[shared_clock])
    await session.start(Agent(instructions="Plain agent, no tools of its own."))
    await session.generate_reply(user_input="go")
    said = [
        i.text_content
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]
    assert said == ["It is noon."]
    await session.aclose()


@pytest.mark.virtual_time
async def test_a_model_that_ignores_tool_choice_none_cannot_loop() -> None:
    class Stubborn(FakeLLM):
        """Calls the tool on every request, whatever tool_choice says."""

        def chat(self, **kwargs: Any) -> Any:
            kwargs["tool_choice"] = None
            self.tool_choices.append("sent")
            return super().chat(**kwargs)

    actions = FakeActions()
    actions.add_llm("", input="go", tool_calls=[_call("value", call_id="s1")])
    actions.add_llm("", input='{"answer": 42}', tool_calls=[_call("value", call_id="s2")])
    llm = Stubborn(actions)
    session: AgentSession[Any] = AgentSession(llm=llm, max_tool_steps=2)
    await session.start(Desk())
    await asyncio.wait_for(session.generate_reply(user_input="go").wait_for_playout(), 10.0)
    assert llm.tool_choices.count("sent") == 3  # two tool steps, then the forced final step
    await session.aclose()


@pytest.mark.virtual_time
async def test_text_and_an_instant_tool_in_one_step_keep_the_history_in_order() -> None:
    actions = FakeActions()
    actions.add_llm("Let me check.", input="weather?", tool_calls=[_call("value", call_id="w1")])
    actions.add_llm("It is 42.", input='{"answer": 42}')
    session: AgentSession[Any] = AgentSession(llm=FakeLLM(actions))
    await session.start(Desk())
    await session.run(user_input="weather?")
    kinds = [(i.type, getattr(i, "role", None)) for i in session.history.items][-5:]
    assert kinds == [
        ("message", "user"),
        ("message", "assistant"),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "assistant"),
    ]
    session.history.to_openai()
    await session.aclose()
