"""The assistant example: its tools on a scripted model, and the whole offline voice stack
answering a spoken question through the console's WAV path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from voxline import AgentSession, ToolError
from voxline.llm import FunctionToolCall
from voxline.testing import FakeActions, FakeLLM

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "assistant.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("assistant_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


assistant = _load_example()


@pytest.mark.parametrize(
    ("expression", "value"),
    [("12 * 7", 84.0), ("2 + 3 * 4", 14.0), ("(1 + 1) ^ 3", 8.0), ("-5 + 2", -3.0), ("9 / 2", 4.5)],
)
def test_calculator_does_arithmetic(expression: str, value: float) -> None:
    assert assistant.evaluate(expression) == value


@pytest.mark.parametrize("expression", ["__import__('os')", "open('x')", "1 +", "1 / 0"])
def test_calculator_refuses_anything_else_with_a_tool_error(expression: str) -> None:
    with pytest.raises(ToolError):
        assistant.evaluate(expression)


@pytest.mark.virtual_time
async def test_the_model_calls_the_calculator_and_reads_its_result() -> None:
    actions = FakeActions()
    question = "What is twelve times seven?"
    call = FunctionToolCall(name="calculate", arguments='{"expression": "12 * 7"}', call_id="c1")
    actions.add_llm("", [call], input=question)
    actions.add_llm("Sure. Twelve times seven is 84.", input="12 * 7 = 84")
    async with AgentSession(llm=FakeLLM(actions)) as session:
        await session.start(assistant.Assistant())
        result = await session.run(user_input=question)
        result.expect.next_event().is_function_call(
            name="calculate", arguments={"expression": "12 * 7"}
        )
        result.expect.next_event().is_function_call_output(output="12 * 7 = 84", is_error=False)
        answer = result.expect.next_event().is_message(role="assistant")
        assert "84" in (answer.item.text_content or "")
        result.expect.no_more_events()


@pytest.mark.virtual_time
async def test_a_bad_expression_goes_back_to_the_model_as_an_error() -> None:
    actions = FakeActions()
    question = "What is the square root of a banana?"
    call = FunctionToolCall(name="calculate", arguments='{"expression": "banana"}', call_id="c1")
    actions.add_llm("", [call], input=question)
    actions.add_llm(
        "Sorry, I can only do arithmetic.", input="I can only do arithmetic, not 'banana'."
    )
    async with AgentSession(llm=FakeLLM(actions)) as session:
        await session.start(assistant.Assistant())
        result = await session.run(user_input=question)
        result.expect.next_event().is_function_call(name="calculate")
        result.expect.next_event().is_function_call_output(is_error=True)
        result.expect.next_event().is_message(role="assistant")
