"""Reference scenario 4 and tool-step basics: states around tool steps, history order,
error outputs the model can act on, and handoffs."""

from __future__ import annotations

from typing import Any

import pytest

from support.timeline import approx, assert_transitions, record
from voxline import Agent, RunContext, function_tool
from voxline.llm import FunctionToolCall
from voxline.testing import FakeActions, FakeAudioOutput, FakeLLM, create_session, run_session


class WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Report the weather.")

    @function_tool
    async def get_weather(self, ctx: RunContext[Any], location: str) -> str:
        """Get the weather.

        Args:
            location: The city.
        """
        return f"The weather in {location} is sunny today."


def _weather_script(
    arguments: str = '{"location": "Tokyo"}', name: str = "get_weather"
) -> FakeActions:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "What's the weather in Tokyo?")
    actions.add_llm(
        "Let me check the weather for you.",
        tool_calls=[FunctionToolCall(name=name, arguments=arguments, call_id="1")],
    )
    actions.add_tts(2.0)
    return actions


@pytest.mark.virtual_time
async def test_tool_call_states_and_history() -> None:
    actions = _weather_script()
    actions.add_llm("It's sunny in Tokyo.", input="The weather in Tokyo is sunny today.")
    actions.add_tts(3.0)
    session = create_session(actions)
    agent = WeatherAgent()
    timeline = record(session)
    timeline.origin = await run_session(session, agent, drain_delay=8.0)

    audio = session.output.audio
    assert isinstance(audio, FakeAudioOutput)
    assert [round(e.playback_position, 2) for e in audio.playback_finished_events] == [2.0, 3.0]
    assert_transitions(
        timeline.agent_states(),
        [
            ("initializing", "listening", 0.0),
            ("listening", "thinking", 3.0),
            ("thinking", "speaking", 3.5),
            ("speaking", "thinking", 5.5),
            ("thinking", "speaking", 6.0),
            ("speaking", "listening", 9.0),
        ],
    )
    assert len(timeline.of("function_tools_executed")) == 1
    kinds = [(i.type, getattr(i, "role", None)) for i in agent.chat_ctx.items]
    assert kinds == [
        ("message", "system"),
        ("agent_config_update", None),
        ("message", "user"),
        ("message", "assistant"),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "assistant"),
    ]
    output = agent.chat_ctx.items[5]
    assert output.type == "function_call_output"
    assert output.output == "The weather in Tokyo is sunny today." and not output.is_error
    agent.chat_ctx.to_openai()  # a valid provider history


@pytest.mark.virtual_time
@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("get_wether", '{"location": "Tokyo"}', "Unknown function: get_wether"),
        ("get_weather", '{"city": "Tokyo"}', "invalid arguments for tool 'get_weather'"),
        ("get_weather", '{"location": "Tokyo",}', "The weather in Tokyo"),  # repaired JSON
    ],
)
async def test_tool_errors_become_outputs_the_model_can_read(
    name: str, arguments: str, expected: str
) -> None:
    actions = _weather_script(arguments, name)
    session = create_session(actions)
    agent = WeatherAgent()
    await run_session(session, agent)
    outputs = [i for i in agent.chat_ctx.items if i.type == "function_call_output"]
    assert len(outputs) == 1 and expected in outputs[0].output
    assert outputs[0].is_error == ("The weather" not in expected)
    if outputs[0].is_error and "arguments" in expected:
        assert "location" in outputs[0].output
    llm = session.llm
    assert isinstance(llm, FakeLLM) and len(llm.requests) == 2  # the model got to correct itself


class Receptionist(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Route callers.")

    @function_tool
    async def transfer_to_billing(self) -> Agent:
        """Transfer the caller to billing."""
        return Billing()


class Billing(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Handle billing.")
        self.entered = False

    async def on_enter(self) -> None:
        self.entered = True
        self.session.say("Billing here.")


@pytest.mark.virtual_time
async def test_tool_returning_an_agent_hands_off() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "I have a billing question")
    actions.add_llm(
        "One moment.",
        tool_calls=[FunctionToolCall(name="transfer_to_billing", arguments="{}", call_id="t1")],
    )
    actions.add_tts(1.0)
    actions.add_tts(1.0, input="Billing here.")
    session = create_session(actions)
    timeline = record(session)
    timeline.origin = await run_session(session, Receptionist())
    assert isinstance(session.current_agent, Billing) and session.current_agent.entered
    handoffs = [i for i in timeline.items() if i.type == "agent_handoff"]
    assert [(h.old_agent_id, h.new_agent_id) for h in handoffs] == [
        (None, "receptionist"),
        ("receptionist", "billing"),
    ]
    said = [i for i in timeline.items() if i.type == "message" and i.role == "assistant"]
    assert [m.text_content for m in said] == ["One moment.", "Billing here."]
    assert approx(timeline.at(timeline.of("conversation_item_added")[-1]), 5.7)
