"""Running the model's tool calls and turning results into history items.

Return semantics: a value becomes the output and asks for a reply; None means no reply; an
Agent hands off; (Agent, value) hands off with an output; ToolError is an error the model
reads; other exceptions become a generic error; StopResponse means answered, no reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..llm.chat_context import FunctionCall, FunctionCallOutput
from ..llm.llm import FunctionToolCall
from ..llm.tool_context import FunctionTool, StopResponse, ToolArgumentsError, ToolError
from .run_context import RunContext

if TYPE_CHECKING:
    from .agent import Agent
    from .session import AgentSession
    from .speech import SpeechHandle

logger = logging.getLogger("voxline.tools")

INTERNAL_ERROR = "An internal error occurred while running the tool."


@dataclass
class ToolOutcome:
    call: FunctionCall
    output: FunctionCallOutput | None
    reply_required: bool
    new_agent: Agent | None = None


def _stringify(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


async def run_tool_call(
    session: AgentSession[Any],
    handle: SpeechHandle,
    tool_call: FunctionToolCall,
    tools: list[FunctionTool],
) -> ToolOutcome:
    call = FunctionCall(
        call_id=tool_call.call_id, name=tool_call.name, arguments=tool_call.arguments
    )

    def out(text: str, *, is_error: bool) -> FunctionCallOutput:
        return FunctionCallOutput(
            call_id=call.call_id, name=call.name, output=text, is_error=is_error
        )

    tool = next((t for t in tools if t.name == tool_call.name), None)
    if tool is None:
        known = ", ".join(t.name for t in tools) or "none"
        return ToolOutcome(
            call,
            out(
                f"Unknown function: {tool_call.name}. Available functions: {known}.", is_error=True
            ),
            reply_required=True,
        )
    try:
        kwargs = tool.parse_arguments(tool_call.arguments)
    except ToolArgumentsError as e:
        return ToolOutcome(call, out(str(e), is_error=True), reply_required=True)
    ctx: RunContext[Any] | None = None
    if tool.context_param is not None:
        ctx = RunContext(session=session, speech_handle=handle, function_call=call)
        kwargs[tool.context_param] = ctx
    runner = asyncio.get_running_loop().create_task(
        _invoke(session, handle, tool, kwargs), name=f"tool_{tool.name}"
    )
    if ctx is None:
        return outcome_of(call, await _wait_tool(runner))
    first_update = ctx._first_update
    await asyncio.wait([runner, first_update], return_when=asyncio.FIRST_COMPLETED)
    if runner.done():
        return outcome_of(call, _result_of(runner))
    # the tool reported progress first: the model hears the update now and the tool goes on
    # in the background; its result arrives later as a deferred reply
    message, silent = first_update.result()
    session._adopt_background_tool(runner, call)
    return ToolOutcome(call, out(message, is_error=False), reply_required=not silent)


async def _wait_tool(runner: asyncio.Task[Any]) -> Any:
    try:
        await asyncio.shield(runner)
    except asyncio.CancelledError:
        runner.cancel()
        raise
    except BaseException:
        pass
    return _result_of(runner)


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _result_of(runner: asyncio.Task[Any]) -> Any:
    if runner.cancelled():
        return _Raised(asyncio.CancelledError())
    error = runner.exception()
    return _Raised(error) if error is not None else runner.result()


async def _invoke(
    session: AgentSession[Any], handle: SpeechHandle, tool: FunctionTool, kwargs: dict[str, Any]
) -> Any:
    from .session import _session_ctx

    task = asyncio.current_task()
    if task is not None:
        handle._in_tool.add(task)
    token = _session_ctx.set(session)
    try:
        return await tool(**kwargs)
    finally:
        _session_ctx.reset(token)
        if task is not None:
            handle._in_tool.discard(task)


def outcome_of(call: FunctionCall, result: Any) -> ToolOutcome:
    """Map a tool's return value (or what it raised) to its output, per the semantics above."""
    from .agent import Agent

    def out(text: str, *, is_error: bool) -> FunctionCallOutput:
        return FunctionCallOutput(
            call_id=call.call_id, name=call.name, output=text, is_error=is_error
        )

    if isinstance(result, _Raised):
        error = result.error
        if isinstance(error, StopResponse):
            return ToolOutcome(call, out("", is_error=False), reply_required=False)
        if isinstance(error, ToolError):
            return ToolOutcome(call, out(error.message, is_error=True), reply_required=True)
        if isinstance(error, asyncio.CancelledError):
            return ToolOutcome(
                call, out("The tool call was cancelled.", is_error=True), reply_required=False
            )
        logger.error("tool %r raised", call.name, exc_info=error)
        return ToolOutcome(call, out(INTERNAL_ERROR, is_error=True), reply_required=True)
    if isinstance(result, Agent):
        return ToolOutcome(call, out("", is_error=False), reply_required=False, new_agent=result)
    if isinstance(result, tuple) and result and isinstance(result[0], Agent):
        agents = [r for r in result if isinstance(r, Agent)]
        if len(agents) > 1:
            return ToolOutcome(
                call,
                out("A tool can hand off to one agent only.", is_error=True),
                reply_required=True,
            )
        value = result[1] if len(result) > 1 else None
        return ToolOutcome(
            call,
            out(_stringify(value) if value is not None else "", is_error=False),
            reply_required=False,
            new_agent=result[0],
        )
    if result is None:
        return ToolOutcome(call, out("", is_error=False), reply_required=False)
    return ToolOutcome(call, out(_stringify(result), is_error=False), reply_required=True)
