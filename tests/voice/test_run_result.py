"""Text-mode testing: `session.run()`, its RunResult events, the `expect` DSL, output_type,
mock_tools and judge — each assertion both passing and failing on real runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from voxline import (
    Agent,
    AgentSession,
    AgentTask,
    APIError,
    RunContext,
    ToolError,
    function_tool,
)
from voxline.llm import FunctionToolCall
from voxline.testing import FakeActions, FakeLLM
from voxline.voice.run_result import (
    AgentHandoffEvent,
    ChatMessageEvent,
    FunctionCallEvent,
    FunctionCallOutputEvent,
    RunResult,
    format_judge_request,
    mock_tools,
)
from voxline.voice.tools import INTERNAL_ERROR

WEATHER_Q = "What's the weather in Paris?"
WEATHER_OUT = "21 degrees celsius and sunny in Paris"
WEATHER_A = "It is 21 degrees and sunny in Paris."


def _call(name: str, arguments: str = "{}", call_id: str = "c1") -> FunctionToolCall:
    return FunctionToolCall(name=name, arguments=arguments, call_id=call_id)


@dataclass
class Lookups:
    locations: list[str] = field(default_factory=list)


class Concierge(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Answer weather questions; hand forecasts over.")

    @function_tool
    async def get_weather(
        self, ctx: RunContext[Lookups], location: str, unit: str = "celsius"
    ) -> str:
        """Look up today's weather.

        Args:
            location: The city.
            unit: celsius or fahrenheit.
        """
        ctx.userdata.locations.append(location)
        return f"21 degrees {unit} and sunny in {location}"

    @function_tool
    async def transfer_to_forecast(self) -> tuple[Agent, str]:
        """Hand the caller to the forecast desk."""
        return Forecaster(), "Transferring you to the forecast desk."


class Forecaster(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Give multi-day forecasts.")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Introduce the forecast desk.")


WEATHER_Q2 = "And the weather in Paris now?"


def _weather_script(actions: FakeActions, question: str = WEATHER_Q, call_id: str = "c1") -> None:
    """The model asks for the weather in Paris, then answers from the tool's output.
    Each question gets its own call id: ids must be unique in a history."""
    actions.add_llm(
        "",
        tool_calls=[_call("get_weather", '{"location": "Paris"}', call_id)],
        input=question,
    )
    actions.add_llm(WEATHER_A, input=WEATHER_OUT)


async def _weather_run(actions: FakeActions | None = None) -> tuple[RunResult[Any], Lookups]:
    """One complete run: tool call, its output, the follow-up answer."""
    if actions is None:
        actions = FakeActions()
        _weather_script(actions)
    lookups = Lookups()
    async with AgentSession(llm=FakeLLM(actions), userdata=lookups) as sess:
        await sess.start(Concierge())
        result: RunResult[Any] = await sess.run(user_input=WEATHER_Q)
        sess.history.to_openai()
    return result, lookups


def _fails(check: Callable[[], object], *fragments: str) -> str:
    """Run a failing assertion; its message must list the run's events."""
    with pytest.raises(AssertionError) as info:
        check()
    message = str(info.value)
    for fragment in ("run of user_input=", ">>>", *fragments):
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    return message


# ======================================================================= events


@pytest.mark.virtual_time
async def test_tool_call_output_and_follow_up_reply_are_the_events_in_order() -> None:
    result, lookups = await _weather_run()
    assert lookups.locations == ["Paris"]
    events = result.events
    assert [type(ev) for ev in events] == [
        FunctionCallEvent,
        FunctionCallOutputEvent,
        ChatMessageEvent,
    ]
    assert [ev.item.created_at for ev in events] == sorted(ev.item.created_at for ev in events)
    assert all(ev.type == ev.item.type for ev in events)
    assert not any(isinstance(ev, ChatMessageEvent) and ev.item.role == "user" for ev in events), (
        "the user's own input is not an event"
    )
    call = result.expect.next_event().is_function_call(
        name="get_weather", arguments={"location": "Paris"}
    )
    assert call.event().item.call_id == "c1" and call.item.name == "get_weather"
    output = result.expect.next_event().is_function_call_output(output=WEATHER_OUT, is_error=False)
    assert output.item.call_id == "c1"
    answer = result.expect.next_event().is_message(role="assistant")
    assert answer.event().item.text_content == WEATHER_A
    result.expect.no_more_events()
    assert result.done() and "3 events" in str(result)


@pytest.mark.virtual_time
async def test_handoff_run_names_both_agents_and_the_new_agent_speaks() -> None:
    actions = FakeActions()
    actions.add_llm("", tool_calls=[_call("transfer_to_forecast")], input="Next week?")
    actions.add_llm("Forecast desk here. Which city?", input="Introduce the forecast desk.")
    async with AgentSession(llm=FakeLLM(actions), userdata=Lookups()) as sess:
        concierge = Concierge()
        await sess.start(concierge)
        result = await sess.run(user_input="Next week?")
        result.expect.next_event().is_function_call(name="transfer_to_forecast")
        result.expect.next_event().is_function_call_output(
            output="Transferring you to the forecast desk."
        )
        handoff = result.expect.next_event().is_agent_handoff(new_agent_type=Forecaster)
        ev = handoff.event()
        assert isinstance(ev, AgentHandoffEvent)
        assert ev.old_agent is concierge and ev.new_agent is sess.current_agent
        assert (handoff.item.old_agent_id, handoff.item.new_agent_id) == ("concierge", "forecaster")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert "agent_handoff: concierge (Concierge) -> forecaster (Forecaster)" in str(result)
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_run_raises_the_llm_error_of_its_last_speech() -> None:
    actions = FakeActions()
    actions.add_llm("never said", input="hello")
    llm = FakeLLM(actions, fail_times=1, fake_exception=APIError("model down", retryable=False))
    async with AgentSession(llm=llm) as sess:
        await sess.start(Agent(instructions="Talk."))
        with pytest.raises(APIError, match="model down"):
            await sess.run(user_input="hello")
        # the session survives one failure: the next run answers
        result = await sess.run(user_input="hello")
        result.expect.next_event().is_message(role="assistant")
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_nested_run_raises_and_the_outer_run_completes() -> None:
    actions = FakeActions()
    _weather_script(actions)
    async with AgentSession(llm=FakeLLM(actions), userdata=Lookups()) as sess:
        await sess.start(Concierge())
        outer = asyncio.ensure_future(sess.run(user_input=WEATHER_Q))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="cannot be nested"):
            await sess.run(user_input="And in Rome?")
        result = await outer
        result.expect.contains_message(role="assistant")
        sess.history.to_openai()


class Picky(Agent):
    """Hands off to an agent this session cannot run (VAD turn detection, no VAD)."""

    def __init__(self) -> None:
        super().__init__(instructions="Hand off.")

    @function_tool
    async def transfer(self) -> Agent:
        """Hand off."""
        return Agent(instructions="Listen.", turn_handling={"turn_detection": "vad"})


@pytest.mark.virtual_time
async def test_run_raises_a_failed_handoff() -> None:
    actions = FakeActions()
    actions.add_llm("", tool_calls=[_call("transfer")], input="transfer me")
    async with AgentSession(llm=FakeLLM(actions)) as sess:
        await sess.start(Picky())
        with pytest.raises(ValueError, match="needs a VAD"):
            await sess.run(user_input="transfer me")
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_verbose_env_prints_every_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOXLINE_EVALS_VERBOSE", "1")
    await _weather_run()
    printed = capsys.readouterr().out
    assert f"run of user_input={WEATHER_Q!r} (3 events):" in printed
    assert "[0] function_call: get_weather" in printed
    assert f"[2] message (assistant): {WEATHER_A!r}" in printed


# ======================================================================= the expect DSL


@pytest.mark.virtual_time
async def test_next_event_checks_fail_with_the_event_list_and_cursor() -> None:
    result, _ = await _weather_run()
    expect = result.expect
    message = _fails(lambda: expect.next_event().is_message(), "expected a message")
    assert ">>> [0] function_call: get_weather" in message
    assert "    [1] function_call_output (get_weather): " in message
    assert f"    [2] message (assistant): {WEATHER_A!r}" in message
    _fails(
        lambda: expect.next_event().is_function_call(),
        "event [1]: expected a function_call, got function_call_output",
        ">>> [1]",  # the failed next_event still consumed [0]
    )
    _fails(
        lambda: result.expect[0].is_function_call(name="transfer_to_forecast"),
        "expected a call to 'transfer_to_forecast', got a call to 'get_weather'",
    )
    _fails(
        lambda: result.expect[0].is_function_call(arguments={"location": "Rome"}),
        "expected argument 'location'='Rome', got 'Paris'",
        ">>> [0]",
    )
    _fails(
        lambda: result.expect[0].is_function_call(arguments={"unit": "kelvin"}),
        "the call has no 'unit'",
    )
    _fails(lambda: result.expect[1].is_function_call_output(output="rain"), "expected output")
    _fails(lambda: result.expect[1].is_function_call_output(is_error=True), "is_error=True")
    _fails(lambda: result.expect[2].is_message(role="user"), "role='user'")
    _fails(lambda: result.expect[2].is_agent_handoff(), "expected an agent_handoff")
    _fails(lambda: result.expect[0].is_function_call_output(), "expected a function_call_output")


@pytest.mark.virtual_time
async def test_next_event_with_type_skips_to_that_type() -> None:
    result, _ = await _weather_run()
    answer = result.expect.next_event(type="message")
    assert answer.item.text_content == WEATHER_A
    _fails(lambda: result.expect.next_event(), "no more events", ">>> (end of events)")

    result, _ = await _weather_run()
    assert result.expect.next_event(type="function_call").item.name == "get_weather"
    assert result.expect.next_event(type="function_call_output").item.output == WEATHER_OUT
    _fails(
        lambda: result.expect.next_event(type="agent_handoff"),
        "expected another agent_handoff event",
    )
    with pytest.raises(ValueError, match="unknown event type"):
        result.expect.next_event(type="speech")  # type: ignore[call-overload]


@pytest.mark.virtual_time
async def test_skip_next_and_no_more_events() -> None:
    result, _ = await _weather_run()
    message = _fails(lambda: result.expect.no_more_events(), "expected no more events")
    assert ">>> [0] function_call" in message
    result.expect.skip_next(2)
    result.expect.next_event().is_message(role="assistant")
    result.expect.no_more_events()
    _fails(lambda: result.expect.skip_next(), "cannot skip 1 event(s): only 0 left")


@pytest.mark.virtual_time
async def test_skip_next_event_if_moves_only_on_a_match() -> None:
    result, _ = await _weather_run()
    expect = result.expect
    assert expect.skip_next_event_if(type="message", role="assistant") is None
    assert expect.skip_next_event_if(type="function_call", name="other") is None
    assert expect.skip_next_event_if(type="function_call", arguments={"location": "Rome"}) is None
    call = expect.skip_next_event_if(type="function_call", name="get_weather")
    assert call is not None and call.item.arguments == '{"location": "Paris"}'
    assert expect.skip_next_event_if(type="function_call_output", is_error=True) is None
    output = expect.skip_next_event_if(type="function_call_output", output=WEATHER_OUT)
    assert output is not None
    assert expect.skip_next_event_if(type="agent_handoff") is None
    message = expect.skip_next_event_if(type="message", role="assistant")
    assert message is not None and message.item.text_content == WEATHER_A
    assert expect.skip_next_event_if(type="message") is None  # nothing left
    expect.no_more_events()


@pytest.mark.virtual_time
async def test_indexing_and_slices() -> None:
    result, _ = await _weather_run()
    assert result.expect[-1].is_message(role="assistant").item.text_content == WEATHER_A
    assert result.expect[0].event() is result.events[0]
    result.expect[1:3].contains_message(role="assistant")
    result.expect[:2].contains_function_call_output(output=WEATHER_OUT)
    found = result.expect[0:1].contains_function_call(name="get_weather")
    assert found.item.call_id == "c1"
    _fails(lambda: result.expect[5], "event index 5 is out of range (3 events)")
    _fails(lambda: result.expect[-4], "out of range")
    _fails(
        lambda: result.expect[1:3].contains_function_call(),
        "no function_call in events [1:3]",
    )
    _fails(
        lambda: result.expect[:2].contains_message(role="assistant"),
        "no message with role='assistant' in events [:2]",
    )
    # looking does not move the cursor
    result.expect.next_event().is_function_call()


@pytest.mark.virtual_time
async def test_contains_searches_every_event() -> None:
    result, _ = await _weather_run()
    expect = result.expect
    assert expect.contains_message(role="assistant").item.text_content == WEATHER_A
    expect.contains_function_call(name="get_weather", arguments={"location": "Paris"})
    expect.contains_function_call_output(is_error=False)
    _fails(
        lambda: expect.contains_function_call(arguments={"location": "Rome"}),
        "no function_call with arguments={'location': 'Rome'} in the run's events",
    )
    _fails(lambda: expect.contains_message(role="user"), "no message with role='user'")
    _fails(lambda: expect.contains_function_call_output(is_error=True), "is_error=True")
    _fails(
        lambda: expect.contains_agent_handoff(new_agent_type=Forecaster),
        "no agent_handoff with new_agent_type=",
    )
    expect.next_event().is_function_call()  # contains_* did not move the cursor


@pytest.mark.virtual_time
async def test_handoff_assertions_fail_on_the_wrong_agent_type() -> None:
    actions = FakeActions()
    actions.add_llm("", tool_calls=[_call("transfer_to_forecast")], input="Next week?")
    actions.add_llm("Forecast desk here.", input="Introduce the forecast desk.")
    async with AgentSession(llm=FakeLLM(actions), userdata=Lookups()) as sess:
        await sess.start(Concierge())
        result = await sess.run(user_input="Next week?")
        result.expect.contains_agent_handoff(new_agent_type=Forecaster)
        result.expect.contains_agent_handoff(new_agent_type=Agent)  # a subclass counts
        _fails(
            lambda: result.expect[2].is_agent_handoff(new_agent_type=Concierge),
            "expected a handoff to a Concierge, got Forecaster",
            ">>> [2] agent_handoff",
        )
        assert result.expect.skip_next_event_if(type="agent_handoff") is None
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_an_empty_run_lists_no_events() -> None:
    async with AgentSession(llm=FakeLLM(FakeActions())) as sess:
        await sess.start(Agent(instructions="Say nothing."))
        result = await sess.run(user_input="unscripted")
        assert result.events == []
        _fails(lambda: result.expect.next_event(), "no more events", ">>> (no events)")
        result.expect.no_more_events()
        sess.history.to_openai()


# ======================================================================= output_type


class GetName(AgentTask[str]):
    def __init__(self) -> None:
        super().__init__(instructions="Ask for the caller's name.")

    @function_tool
    async def record_name(self, name: str) -> None:
        """Record the caller's name.

        Args:
            name: The name the caller gave.
        """
        self.complete(name)


class Onboarding(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Onboard the caller.")
        self.names: list[str] = []

    async def on_enter(self) -> None:
        name = await GetName()
        self.names.append(name)
        self.session.generate_reply(instructions=f"Welcome {name}.")


async def _until_active(sess: AgentSession[Any], agent_type: type[Agent]) -> None:
    """Wait until `agent_type` took over (on_enter runs in the background after start)."""
    switched = asyncio.Event()

    def check(_: Any = None) -> None:
        if isinstance(sess.current_agent, agent_type):
            switched.set()

    sess.on("conversation_item_added", check)
    check()
    await switched.wait()
    sess.off("conversation_item_added", check)


def _name_script() -> FakeActions:
    actions = FakeActions()
    actions.add_llm(
        "", tool_calls=[_call("record_name", '{"name": "Ada"}', "n1")], input="I'm Ada."
    )
    actions.add_llm("Welcome aboard, Ada!", input="Welcome Ada.")
    return actions


@pytest.mark.virtual_time
async def test_agent_task_result_is_the_final_output() -> None:
    async with AgentSession(llm=FakeLLM(_name_script())) as sess:
        onboarding = Onboarding()
        await sess.start(onboarding)
        await _until_active(sess, GetName)
        result: RunResult[str] = await sess.run(user_input="I'm Ada.", output_type=str)
        assert result.final_output == "Ada" and onboarding.names == ["Ada"]
        result.expect.next_event().is_function_call(name="record_name", arguments={"name": "Ada"})
        # complete() hands control back while the tool is still returning: both happen at
        # the same instant, so their order is the session's business
        result.expect[1:3].contains_function_call_output(output="")
        result.expect[1:3].contains_agent_handoff(new_agent_type=Onboarding)
        result.expect.skip_next(2)
        # the caller's follow-up after `await GetName()` belongs to the run too
        welcome = result.expect.next_event().is_message(role="assistant")
        assert welcome.item.text_content == "Welcome aboard, Ada!"
        result.expect.no_more_events()
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_output_type_mismatch_and_missing_output_fail_the_run() -> None:
    async with AgentSession(llm=FakeLLM(_name_script())) as sess:
        await sess.start(Onboarding())
        await _until_active(sess, GetName)
        with pytest.raises(TypeError, match=r"expected an output of type int.*completed with str"):
            await sess.run(user_input="I'm Ada.", output_type=int)
        with pytest.raises(RuntimeError, match="no AgentTask completed"):
            await sess.run(user_input="Thanks!", output_type=str)
        result = await sess.run(user_input="Thanks again!")
        with pytest.raises(RuntimeError, match="no final output"):
            _ = result.final_output
        sess.history.to_openai()


# ======================================================================= mock_tools


async def _weather_run_in(sess: AgentSession[Lookups], user_input: str) -> RunResult[Any]:
    result: RunResult[Any] = await sess.run(user_input=user_input)
    return result


@pytest.mark.virtual_time
async def test_mock_tools_replaces_execution_with_a_subset_of_arguments() -> None:
    actions = FakeActions()
    _weather_script(actions)
    _weather_script(actions, WEATHER_Q2, "c2")
    actions.add_llm("Mocked answer.", input="mocked: Paris")
    lookups = Lookups()
    async with AgentSession(llm=FakeLLM(actions), userdata=lookups) as sess:
        await sess.start(Concierge())  # created before the mock: still mocked
        seen: list[str] = []

        def fake_weather(location: str) -> str:
            seen.append(location)
            return f"mocked: {location}"

        with mock_tools(Concierge, {"get_weather": fake_weather}):
            result = await _weather_run_in(sess, WEATHER_Q)
        assert seen == ["Paris"] and lookups.locations == []
        result.expect.next_event().is_function_call(name="get_weather")
        result.expect.next_event().is_function_call_output(output="mocked: Paris")
        result.expect.next_event().is_message(role="assistant")
        # restored on exit: the real tool runs again
        result = await _weather_run_in(sess, WEATHER_Q2)
        result.expect[1].is_function_call_output(output=WEATHER_OUT)
        assert lookups.locations == ["Paris"]
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_mock_tools_async_mock_gets_the_run_context() -> None:
    actions = FakeActions()
    _weather_script(actions)
    actions.add_llm("Noted.", input="Paris for the session")
    lookups = Lookups()
    async with AgentSession(llm=FakeLLM(actions), userdata=lookups) as sess:
        await sess.start(Concierge())

        async def fake_weather(ctx: RunContext[Lookups], **kwargs: Any) -> str:
            ctx.userdata.locations.append("mock")
            return f"{kwargs['location']} for the session"

        with mock_tools(Concierge, {"get_weather": fake_weather}):
            result = await _weather_run_in(sess, WEATHER_Q)
        result.expect[1].is_function_call_output(output="Paris for the session")
        assert lookups.locations == ["mock"]
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_mock_tools_returned_exceptions_are_raised() -> None:
    actions = FakeActions()
    _weather_script(actions)
    _weather_script(actions, WEATHER_Q2, "c2")
    actions.add_llm("The service is down.", input="weather service down")
    actions.add_llm("Something broke.", input=INTERNAL_ERROR)
    async with AgentSession(llm=FakeLLM(actions), userdata=Lookups()) as sess:
        await sess.start(Concierge())
        with mock_tools(Concierge, {"get_weather": lambda: ToolError("weather service down")}):
            result = await _weather_run_in(sess, WEATHER_Q)
        result.expect[1].is_function_call_output(output="weather service down", is_error=True)
        result.expect[2].is_message(role="assistant")
        with mock_tools(Concierge, {"get_weather": lambda: RuntimeError("secret")}):
            result = await _weather_run_in(sess, WEATHER_Q2)
        result.expect.contains_function_call_output(output=INTERNAL_ERROR, is_error=True)
        sess.history.to_openai()


@pytest.mark.virtual_time
async def test_mock_tools_nest_and_only_touch_the_named_class() -> None:
    actions = FakeActions()
    _weather_script(actions)
    _weather_script(actions, WEATHER_Q2, "c2")
    actions.add_llm("Inner.", input="inner")
    actions.add_llm("Outer.", input="outer")
    async with AgentSession(llm=FakeLLM(actions), userdata=Lookups()) as sess:
        await sess.start(Concierge())
        with mock_tools(Concierge, {"get_weather": lambda: "outer"}):
            with (
                mock_tools(Forecaster, {}),
                mock_tools(Concierge, {"get_weather": lambda: "inner"}),
            ):
                inner = await _weather_run_in(sess, WEATHER_Q)
            outer = await _weather_run_in(sess, WEATHER_Q2)
        inner.expect[1].is_function_call_output(output="inner")
        outer.expect[1].is_function_call_output(output="outer")
        # another class's tool of the same name is untouched by a Concierge mock
        other = Desk()
        with mock_tools(Concierge, {"get_weather": lambda: "mocked"}):
            assert await other.get_weather(location="Oslo") == "desk: Oslo"
        sess.history.to_openai()


class Desk(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Desk.")

    @function_tool
    async def get_weather(self, location: str) -> str:
        """Weather at the desk."""
        return f"desk: {location}"


def test_mock_tools_rejects_unknown_tools_and_parameters() -> None:
    with pytest.raises(ValueError, match=r"has no tool\(s\) \['get_wether'\]"):
        with mock_tools(Concierge, {"get_wether": lambda: "x"}):
            pass
    with pytest.raises(TypeError, match="takes 'city', which the tool does not have"):
        with mock_tools(Concierge, {"get_weather": lambda city: city}):
            pass
    with pytest.raises(TypeError, match="needs an Agent subclass"):
        with mock_tools(Lookups, {}):  # type: ignore[arg-type]
            pass


# ======================================================================= judge


def _judge_llm(message: str, intent: str, *, success: bool, reason: str) -> FakeLLM:
    verdict = f'{{"success": {"true" if success else "false"}, "reason": "{reason}"}}'
    actions = FakeActions()
    actions.add_llm(
        "",
        tool_calls=[_call("check_intent", verdict, "j1")],
        input=format_judge_request(message=message, intent=intent),
    )
    return FakeLLM(actions)


@pytest.mark.virtual_time
async def test_judge_passes_when_the_llm_says_the_intent_is_met() -> None:
    result, _ = await _weather_run()
    intent = "Tells the weather in Paris."
    judge = _judge_llm(WEATHER_A, intent, success=True, reason="It gives the weather.")
    answer = result.expect.next_event(type="message")
    assert await answer.judge(judge, intent=intent) is answer
    request = judge.requests[0]
    assert [i.role for i in request.items if i.type == "message"] == ["system", "user"]
    assert judge.tool_choices == [{"type": "function", "function": {"name": "check_intent"}}]


@pytest.mark.virtual_time
async def test_judge_fails_with_the_llm_reason() -> None:
    result, _ = await _weather_run()
    intent = "Apologises for the rain."
    judge = _judge_llm(WEATHER_A, intent, success=False, reason="It does not apologise.")
    with pytest.raises(AssertionError) as info:
        await result.expect[2].is_message(role="assistant").judge(judge, intent=intent)
    message = str(info.value)
    assert (
        "does not fulfil the intent 'Apologises for the rain.': It does not apologise." in message
    )
    assert f">>> [2] message (assistant): {WEATHER_A!r}" in message


@pytest.mark.virtual_time
async def test_judge_needs_a_check_intent_call() -> None:
    result, _ = await _weather_run()
    silent = FakeLLM(FakeActions())  # answers nothing
    with pytest.raises(RuntimeError, match="did not call check_intent"):
        await result.expect[2].is_message().judge(silent, intent="Anything.")
