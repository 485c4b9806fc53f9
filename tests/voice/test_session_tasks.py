"""Reference §3.2 scenario 23 and §3.3 nested agent tasks."""

from __future__ import annotations

import pytest

from support.timeline import approx, record
from voxline import Agent, AgentTask, function_tool
from voxline.llm import FunctionToolCall
from voxline.testing import FakeActions, create_session, run_session


class SilentFirst(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Look up data.")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="start")

    @function_tool
    async def lookup(self) -> str:
        """Look up the data."""
        return "the data"


@pytest.mark.virtual_time
async def test_silent_tool_step_pause_state_does_not_leak_into_the_tool_reply() -> None:
    actions = FakeActions()
    actions.add_llm(
        "",
        input="start",
        tool_calls=[FunctionToolCall(name="lookup", arguments="{}", call_id="l1")],
    )
    actions.add_llm("Here is the data you asked for.", input="the data")
    actions.add_tts(5.0)
    actions.add_user_speech(0.85, 2.0, "")  # noise while the tool reply plays
    session = create_session(
        actions,
        can_pause_audio=True,
        turn_handling={"interruption": {"false_interruption_timeout": 0.2}},
    )
    timeline = record(session)
    timeline.origin = await run_session(session, SilentFirst(), drain_delay=6.0)
    states = timeline.agent_states()
    pause = next(i for i, (a, b, _) in enumerate(states) if (a, b) == ("speaking", "listening"))
    assert states[pause + 1][:2] == ("listening", "speaking")
    assert approx(states[pause][2], 1.35) and approx(states[pause + 1][2], 2.7)
    resumed = timeline.of("agent_false_interruption")
    assert resumed and resumed[-1].resumed
    assistants = [i for i in timeline.items() if i.type == "message" and i.role == "assistant"]
    assert [(a.text_content, a.interrupted) for a in assistants] == [
        ("Here is the data you asked for.", False)
    ]


class Inner(AgentTask[str]):
    def __init__(self) -> None:
        super().__init__(instructions="Inner task.")

    async def on_enter(self) -> None:
        await self.session.say("Inner here.")
        self.complete("inner-result")


class Outer(AgentTask[str]):
    def __init__(self) -> None:
        super().__init__(instructions="Outer task.")

    async def on_enter(self) -> None:
        inner = await Inner()
        self.complete(f"outer({inner})")


class Host(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Host.")
        self.results: list[str] = []

    @function_tool
    async def run_tasks(self) -> str:
        """Run the nested tasks."""
        result = await Outer()
        self.results.append(result)
        return result


@pytest.mark.virtual_time
async def test_nested_agent_tasks_return_in_order_and_give_control_back() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "run them")
    actions.add_llm(
        "Starting.", tool_calls=[FunctionToolCall(name="run_tasks", arguments="{}", call_id="r1")]
    )
    actions.add_tts(0.5)
    actions.add_tts(0.5, input="Inner here.")
    actions.add_llm("All done.", input="outer(inner-result)")
    actions.add_tts(0.5)
    session = create_session(actions)
    host = Host()
    timeline = record(session)
    await run_session(session, host)
    assert host.results == ["outer(inner-result)"]
    assert session.current_agent is host
    handoffs = [
        (h.old_agent_id, h.new_agent_id) for h in timeline.items() if h.type == "agent_handoff"
    ]
    assert handoffs == [
        (None, "host"),
        ("host", "outer"),
        ("outer", "inner"),
        ("inner", "outer"),
        ("outer", "host"),
    ]
    said = [
        i.text_content for i in timeline.items() if i.type == "message" and i.role == "assistant"
    ]
    assert said == ["Starting.", "Inner here.", "All done."]
    # what was said inside the tasks reaches the host's own context
    assert "Inner here." in [i.text_content for i in host.chat_ctx.items if i.type == "message"]
