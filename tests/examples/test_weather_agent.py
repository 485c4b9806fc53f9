"""The weather example, tested the way an agent developer would: text in, `result.expect`
on what the agent did. Also checks the example still runs as a script."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from voxline import AgentSession, ToolError
from voxline.llm import FunctionToolCall
from voxline.testing import FakeActions, FakeLLM
from voxline.voice.run_result import mock_tools

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "weather_agent.py"


def _load_example() -> ModuleType:
    """Import examples/weather_agent.py by path: examples are scripts, not a package."""
    spec = importlib.util.spec_from_file_location("weather_agent_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


weather_agent = _load_example()
WeatherAgent = weather_agent.WeatherAgent
ForecastAgent = weather_agent.ForecastAgent
CONVERSATION: list[str] = weather_agent.CONVERSATION


def _session(actions: FakeActions) -> AgentSession[None]:
    return AgentSession(llm=FakeLLM(actions))


@pytest.mark.virtual_time
async def test_todays_weather_comes_from_the_tool() -> None:
    async with _session(weather_agent.scripted_actions()) as sess:
        await sess.start(WeatherAgent())
        result = await sess.run(user_input=CONVERSATION[0])
        result.expect.next_event().is_function_call(
            name="get_weather", arguments={"location": "Paris"}
        )
        result.expect.next_event().is_function_call_output(
            output="Paris: sunny and 21 degrees today", is_error=False
        )
        answer = result.expect.next_event().is_message(role="assistant")
        assert "21 degrees" in (answer.item.text_content or "")
        result.expect.no_more_events()
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_the_coming_days_go_to_the_forecast_desk() -> None:
    async with _session(weather_agent.scripted_actions()) as sess:
        weather = WeatherAgent()
        await sess.start(weather)
        await sess.run(user_input=CONVERSATION[0])
        result = await sess.run(user_input=CONVERSATION[1])
        result.expect.next_event().is_function_call(name="transfer_to_forecast")
        result.expect.next_event().is_function_call_output()
        handoff = result.expect.next_event().is_agent_handoff(new_agent_type=ForecastAgent)
        assert handoff.event().old_agent is weather
        # the forecast desk greets the caller on its own, within the same run
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()

        result = await sess.run(user_input=CONVERSATION[2])
        result.expect.contains_function_call(
            name="get_forecast", arguments={"location": "Paris", "days": 3}
        )
        result.expect[-1].is_message(role="assistant")
        assert isinstance(sess.current_agent, ForecastAgent)
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_an_unknown_city_is_an_error_the_model_reads() -> None:
    actions = FakeActions()
    actions.add_llm(
        "",
        [FunctionToolCall(name="get_weather", arguments='{"location": "Atlantis"}', call_id="a1")],
        input="Weather in Atlantis?",
    )
    actions.add_llm("I have no data for Atlantis.", input="No weather data for Atlantis.")
    async with _session(actions) as sess:
        await sess.start(WeatherAgent())
        result = await sess.run(user_input="Weather in Atlantis?")
        result.expect[1].is_function_call_output(
            output="No weather data for Atlantis.", is_error=True
        )
        result.expect[2].is_message(role="assistant")
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_a_weather_service_outage_is_mocked() -> None:
    actions = weather_agent.scripted_actions()
    actions.add_llm("Sorry, the weather service is down.", input="Weather service unavailable.")
    async with _session(actions) as sess:
        await sess.start(WeatherAgent())

        def outage(location: str) -> Any:
            return ToolError("Weather service unavailable.")

        with mock_tools(WeatherAgent, {"get_weather": outage}):
            result = await sess.run(user_input=CONVERSATION[0])
        result.expect.next_event().is_function_call(name="get_weather")
        result.expect.next_event().is_function_call_output(is_error=True)
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_the_example_runs_as_a_script(capsys: pytest.CaptureFixture[str]) -> None:
    await weather_agent.main()
    printed = capsys.readouterr().out
    assert printed.count("run of user_input=") == len(CONVERSATION)
    assert "agent_handoff: weather_agent (WeatherAgent) -> forecast_agent (ForecastAgent)" in (
        printed
    )
    assert "'Sunny tomorrow, then clouds, then rain.'" in printed
