"""A session whose model calls tools of a real MCP server (stdio), and one that cannot start."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from voxline import Agent, AgentSession
from voxline.llm import FunctionToolCall
from voxline.llm.mcp import MCPServerStdio
from voxline.testing import FakeActions, FakeLLM

SERVER = Path(__file__).resolve().parents[1] / "llm" / "mcp_servers" / "tools_server.py"


async def test_the_model_calls_an_mcp_tool_through_the_session() -> None:
    actions = FakeActions()
    actions.add_llm(
        "",
        input="add two and three",
        tool_calls=[FunctionToolCall(name="add", arguments='{"a": 2, "b": 3}', call_id="m1")],
    )
    actions.add_llm("It is five.", input="5")
    llm = FakeLLM(actions)
    server = MCPServerStdio(sys.executable, [str(SERVER)])
    session: AgentSession[Any] = AgentSession(llm=llm, mcp_servers=[server])
    await asyncio.wait_for(session.start(Agent(instructions="Use tools.")), 30)
    await asyncio.wait_for(
        session.generate_reply(user_input="add two and three").wait_for_playout(), 30
    )
    outputs = [i.output for i in session.history.items if i.type == "function_call_output"]
    assert outputs == ["5"]
    said = [
        i.text_content
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]
    assert said == ["It is five."]
    assert "add" in [t.name for t in session._tools_for(session.current_agent)]
    await asyncio.wait_for(session.aclose(), 30)
    assert not server.initialized


async def test_an_mcp_server_that_cannot_start_is_reported_not_fatal() -> None:
    actions = FakeActions()
    actions.add_llm("Hello.", input="hi")
    session: AgentSession[Any] = AgentSession(
        llm=FakeLLM(actions), mcp_servers=[MCPServerStdio("/nonexistent/mcp-server")]
    )
    errors: list[Any] = []
    session.on("error", errors.append)
    await asyncio.wait_for(session.start(Agent(instructions="Talk.")), 30)
    await session.generate_reply(user_input="hi")
    assert len(errors) == 1 and "/nonexistent/mcp-server" in str(errors[0].error)
    said = [
        i.text_content
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]
    assert said == ["Hello."]
    await session.aclose()
