"""ChatContext: ordering, copies, equivalence, serialization and the OpenAI format."""

from __future__ import annotations

import pytest

from voxline.llm import (
    AgentHandoff,
    ChatContext,
    ChatMessage,
    FunctionCall,
    FunctionCallOutput,
    HistoryError,
    ImageContent,
)


def _ctx() -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="Be brief.", created_at=0.0)
    ctx.add_message(role="user", content="Weather?", created_at=1.0)
    ctx.insert(FunctionCall(call_id="c1", name="get_weather", arguments="{}", created_at=2.0))
    ctx.insert(FunctionCall(call_id="c2", name="get_time", arguments="{}", created_at=2.0))
    ctx.insert(FunctionCallOutput(call_id="c1", output="sunny", is_error=False, created_at=3.0))
    ctx.insert(FunctionCallOutput(call_id="c2", output="noon", is_error=False, created_at=3.0))
    ctx.add_message(role="assistant", content="Sunny at noon.", created_at=4.0)
    return ctx


def test_insert_keeps_time_order() -> None:
    ctx = ChatContext.empty()
    late = ctx.add_message(role="user", content="late", created_at=5.0)
    early = ctx.add_message(role="assistant", content="early", created_at=1.0)
    same = ctx.add_message(role="user", content="same", created_at=5.0)
    assert [i.id for i in ctx.items] == [early.id, late.id, same.id]


def test_openai_format_groups_parallel_calls() -> None:
    messages = _ctx().to_openai()
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[2]["role"] == "assistant"
    assert [c["id"] for c in messages[2]["tool_calls"]] == ["c1", "c2"]
    assert messages[3] == {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
    assert messages[-1] == {"role": "assistant", "content": "Sunny at noon."}


def test_openai_format_refuses_a_call_without_output() -> None:
    ctx = ChatContext.empty()
    ctx.insert(FunctionCall(call_id="c1", name="f", arguments="{}", created_at=1.0))
    ctx.add_message(role="user", content="hello?", created_at=2.0)
    with pytest.raises(HistoryError, match="no output"):
        ctx.to_openai()


def test_openai_format_refuses_an_orphan_output() -> None:
    ctx = ChatContext([FunctionCallOutput(call_id="zz", output="x", is_error=False)])
    with pytest.raises(HistoryError, match="no matching call"):
        ctx.to_openai()


def test_images_become_content_parts() -> None:
    ctx = ChatContext.empty()
    ctx.add_message(
        role="user",
        content=["What is this?", ImageContent(image=b"\xff\xd8", mime_type="image/jpeg")],
    )
    parts = ctx.to_openai()[0]["content"]
    assert parts[0] == {"type": "text", "text": "What is this?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_copy_filters_and_equivalence() -> None:
    ctx = _ctx()
    no_tools = ctx.copy(exclude_function_call=True, exclude_instructions=True)
    assert [i.type for i in no_tools.items] == ["message", "message"]
    twin = ChatContext.empty()
    for item in ctx.items:
        twin.insert(item.model_copy(update={"id": "other_" + item.id}))
    assert ctx.is_equivalent(twin)
    twin.add_message(role="user", content="more")
    assert not ctx.is_equivalent(twin)


def test_roundtrip_through_dict() -> None:
    ctx = _ctx()
    ctx.insert(AgentHandoff(old_agent_id="a", new_agent_id="b", created_at=5.0))
    again = ChatContext.from_dict(ctx.to_dict())
    assert [i.model_dump() for i in again.items] == [i.model_dump() for i in ctx.items]


def test_text_content_joins_text_parts() -> None:
    msg = ChatMessage(role="user", content=["a", ImageContent(image="http://x/y.png"), "b"])
    assert msg.text_content == "a\nb"
