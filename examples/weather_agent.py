"""A weather agent with a tool and a handoff, exercised in text mode: no audio, no network.

`WeatherAgent` answers today's weather with its `get_weather` tool and hands questions about
the coming days to `ForecastAgent`. Run this file to replay a scripted conversation with a
`FakeLLM` and print what each `session.run()` caused; `tests/examples/test_weather_agent.py`
asserts on the same agents with `result.expect`.

    python examples/weather_agent.py
"""

from __future__ import annotations

from voxline import Agent, AgentSession, ToolError, function_tool
from voxline.llm import FunctionToolCall
from voxline.testing import FakeActions, FakeLLM, run

# Stand-ins for a weather service, so the example runs anywhere.
TODAY = {
    "paris": "sunny and 21 degrees",
    "london": "light rain and 14 degrees",
}
FORECAST = {
    "paris": ["sunny", "cloudy", "rain"],
    "london": ["rain", "rain", "cloudy"],
}

FORECAST_GREETING = "Introduce yourself as the forecast desk and ask for the city."


class WeatherAgent(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions=(
                "You are a friendly weather assistant on a phone line. Use get_weather for "
                "today's weather. For the coming days, transfer to the forecast desk."
            )
        )

    @function_tool
    async def get_weather(self, location: str) -> str:
        """Look up today's weather.

        Args:
            location: The city, e.g. Paris.
        """
        report = TODAY.get(location.strip().lower())
        if report is None:
            # a ToolError is read by the model, which can then ask for another city
            raise ToolError(f"No weather data for {location}.")
        return f"{location}: {report} today"

    @function_tool
    async def transfer_to_forecast(self) -> tuple[Agent, str]:
        """Transfer the caller to the forecast desk, for the weather of the coming days."""
        return ForecastAgent(), "Transferring you to the forecast desk."


class ForecastAgent(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You give short multi-day forecasts.")

    async def on_enter(self) -> None:
        # the caller should not sit in silence after a transfer
        self.session.generate_reply(instructions=FORECAST_GREETING)

    @function_tool
    async def get_forecast(self, location: str, days: int = 3) -> str:
        """Look up the forecast for the coming days.

        Args:
            location: The city, e.g. Paris.
            days: How many days ahead, 1 to 3.
        """
        days_ahead = FORECAST.get(location.strip().lower())
        if days_ahead is None:
            raise ToolError(f"No forecast for {location}.")
        return f"{location}: " + ", then ".join(days_ahead[: max(1, min(days, 3))])


CONVERSATION = [
    "What's the weather in Paris?",
    "And the next days?",
    "Paris, please.",
]


def scripted_actions() -> FakeActions:
    """What the model answers to each step of CONVERSATION (keyed by the last chat item:
    the user's words, a tool's output, or the instructions of a generated reply)."""

    def call(name: str, arguments: str, call_id: str) -> list[FunctionToolCall]:
        return [FunctionToolCall(name=name, arguments=arguments, call_id=call_id)]

    actions = FakeActions()
    actions.add_llm("", call("get_weather", '{"location": "Paris"}', "w1"), input=CONVERSATION[0])
    actions.add_llm(
        "It's sunny and 21 degrees in Paris today.", input="Paris: sunny and 21 degrees today"
    )
    actions.add_llm("", call("transfer_to_forecast", "{}", "t1"), input=CONVERSATION[1])
    actions.add_llm("Forecast desk here! Which city?", input=FORECAST_GREETING)
    actions.add_llm(
        "", call("get_forecast", '{"location": "Paris", "days": 3}', "f1"), input=CONVERSATION[2]
    )
    actions.add_llm(
        "Sunny tomorrow, then clouds, then rain.", input="Paris: sunny, then cloudy, then rain"
    )
    return actions


async def main() -> None:
    session: AgentSession[None] = AgentSession(llm=FakeLLM(scripted_actions()))
    async with session:
        await session.start(WeatherAgent())
        for user_input in CONVERSATION:
            result = await session.run(user_input=user_input)
            print(result, end="\n\n")


if __name__ == "__main__":
    run(main())
