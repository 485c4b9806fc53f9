"""The session's prompt-prewarm hook: an LLM with an async `prewarm_prompt(instructions,
tools)` gets the agent's system prompt when the agent becomes active, in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from voxline import Agent, AgentSession, function_tool
from voxline.llm import Tool
from voxline.testing import FakeActions, FakeLLM


@function_tool
async def get_time(timezone: str) -> str:
    """The current time in a timezone."""
    return "12:00"


class PrewarmingLLM(FakeLLM):
    def __init__(self, actions: FakeActions, *, fail: bool = False, delay: float = 0.0) -> None:
        super().__init__(actions)
        self.prewarms: list[tuple[str, list[str]]] = []
        self.fail = fail
        self.delay = delay

    async def prewarm_prompt(self, instructions: str, tools: Sequence[Tool] = ()) -> None:
        await asyncio.sleep(self.delay)
        self.prewarms.append((instructions, [t.name for t in tools]))  # type: ignore[union-attr]
        if self.fail:
            raise RuntimeError("model file missing")


class Helper(Agent):
    def __init__(self, instructions: str = "Be brief.") -> None:
        super().__init__(instructions=instructions, tools=[get_time])


@pytest.mark.virtual_time
async def test_start_prewarms_the_agents_instructions_and_tools() -> None:
    actions = FakeActions()
    actions.add_llm("Hello.", input="hi")
    llm = PrewarmingLLM(actions, delay=0.5)
    async with AgentSession(llm=llm) as session:
        await session.start(Helper())
        assert llm.prewarms == []  # in the background: start() did not wait for it
        await asyncio.sleep(1.0)
        assert llm.prewarms == [("Be brief.", ["get_time"])]
        result = await session.run(user_input="hi")
        result.expect.next_event().is_message(role="assistant")


@pytest.mark.virtual_time
async def test_a_handoff_prewarms_the_new_agent() -> None:
    llm = PrewarmingLLM(FakeActions())
    async with AgentSession(llm=llm) as session:
        await session.start(Helper("First."))
        session.update_agent(Helper("Second."))
        await asyncio.sleep(1.0)
    assert [p[0] for p in llm.prewarms] == ["First.", "Second."]


@pytest.mark.virtual_time
async def test_a_failed_prewarm_is_logged_and_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actions = FakeActions()
    actions.add_llm("Hello.", input="hi")
    llm = PrewarmingLLM(actions, fail=True)
    async with AgentSession(llm=llm) as session:
        await session.start(Helper())
        await asyncio.sleep(0.1)
        result = await session.run(user_input="hi")
        result.expect.next_event().is_message(role="assistant")
    assert "prewarming the LLM prompt" in caplog.text
    assert "model file missing" in caplog.text


@pytest.mark.virtual_time
async def test_llms_without_the_hook_are_left_alone() -> None:
    class SyncPrewarm(FakeLLM):
        calls = 0

        def prewarm_prompt(self, *args: Any) -> None:  # not async: not the hook
            SyncPrewarm.calls += 1

    async with AgentSession(llm=SyncPrewarm(FakeActions())) as session:
        await session.start(Helper())
        await asyncio.sleep(0.1)
    assert SyncPrewarm.calls == 0
