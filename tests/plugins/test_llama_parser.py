"""The local LLM's action JSON: prompt, grammar and the streaming parser (no model needed)."""

from __future__ import annotations

import json

import pytest

from voxline.llm import ChatContext, FunctionCall, FunctionCallOutput, function_tool
from voxline.llm.tool_context import ToolArgumentsError
from voxline.plugins.llama._parser import ActionParser, parse_tool_json
from voxline.plugins.llama._prompt import (
    branches_for,
    build_grammar,
    build_messages,
    system_prompt,
)


@function_tool
async def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


@function_tool
async def get_time(timezone: str = "UTC") -> str:
    """The current time in a timezone."""
    return "12:00"


def feed_all(parser: ActionParser, pieces: list[str]) -> list[str]:
    return [out for p in pieces if (out := parser.feed(p))]


def split_every(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


# ------------------------------------------------------------------ parser


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_the_reply_streams_as_it_decodes_whatever_the_token_boundaries(step: int) -> None:
    reply = "It's 5 \"o'clock\"\\ now\n\u00e9\u00e8 \U0001f600 done"
    text = json.dumps({"tool": "none", "reply": reply}, separators=(",", ":"))
    parser = ActionParser()
    streamed = feed_all(parser, split_every(text, step))
    rest, call = parser.finish()
    assert call is None and rest == ""
    assert "".join(streamed) == reply
    assert len(streamed) > 1 or step > 10  # pieces came out before the end


def test_reply_text_comes_out_before_the_object_closes() -> None:
    parser = ActionParser()
    assert parser.feed('{"tool":"none","re') == ""
    assert parser.feed('ply":"Hel') == "Hel"
    assert parser.feed("lo") == "lo"
    assert parser.feed('."}') == "."


def test_escaped_unicode_split_across_tokens_is_decoded_once_complete() -> None:
    parser = ActionParser()
    parser.feed('{"tool":"none","reply":"caf\\u00')
    assert parser.streamed_reply == "caf"
    parser.feed("e9 \\ud83d")
    assert parser.streamed_reply == "café "
    parser.feed('\\ude00"}')
    assert parser.streamed_reply == "café \U0001f600"


def test_a_tool_call_is_held_and_parsed_at_the_end() -> None:
    parser = ActionParser()
    text = '{"tool":"add","arguments":{"a":17,"b":25}}'
    assert feed_all(parser, split_every(text, 3)) == []
    rest, call = parser.finish()
    assert rest == "" and call is not None
    assert call.name == "add"
    assert json.loads(call.arguments) == {"a": 17, "b": 25}


def test_a_call_cut_short_keeps_its_broken_arguments_for_the_session_to_report() -> None:
    parser = ActionParser()
    parser.feed('{"tool":"add","arguments":{"a":17,"b"')
    _, call = parser.finish()
    assert call is not None and call.name == "add"
    assert call.arguments == '{"a":17,"b"'
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        add.parse_arguments(call.arguments)


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```',
        '  {"tool": "add", "arguments": {"a": 1, "b": 2}}  ',
        '{"name": "add", "parameters": {"a": 1, "b": 2}}',
    ],
)
def test_bare_or_fenced_tool_json_in_a_plain_answer_is_a_call(text: str) -> None:
    parser = ActionParser(plain_text_ok=True)
    assert feed_all(parser, split_every(text, 4)) == []
    _, call = parser.finish()
    assert call is not None and call.name == "add"
    assert json.loads(call.arguments) == {"a": 1, "b": 2}


def test_plain_text_streams_at_once_when_allowed() -> None:
    parser = ActionParser(plain_text_ok=True)
    assert parser.feed(" Paris") == "Paris"
    assert parser.feed(" is the capital.") == " is the capital."
    assert parser.finish() == ("", None)


def test_unparseable_output_is_given_as_text_not_lost() -> None:
    parser = ActionParser()
    parser.feed("I am not JSON")
    assert parser.finish() == ("I am not JSON", None)
    assert parse_tool_json('{"tool": "none", "reply": "x"}') is None
    assert parse_tool_json("[1, 2]") is None


# ------------------------------------------------------------------ prompt and grammar


def test_the_system_prompt_describes_tools_first_and_is_stable() -> None:
    a = system_prompt("Be brief.", [add.__get__(None), get_time.__get__(None)])
    b = system_prompt("Be brief.", [add, get_time])
    assert a == b
    assert a.index("- add: Add two numbers.") < a.index("- get_time") < a.index("Be brief.")
    assert '"a": number (the first number)' in a
    assert '"timezone": string, optional' in a
    assert a.endswith("Be brief.")
    assert system_prompt("Be brief.", []) == "Be brief."


def test_messages_render_past_calls_as_action_json_and_outputs_as_tool_messages() -> None:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content="Be brief.")
    ctx.add_message(role="user", content="17 plus 25?")
    ctx.insert(FunctionCall(call_id="c1", name="add", arguments='{"a":17,"b":25}'))
    ctx.insert(FunctionCallOutput(call_id="c1", name="add", output="42", is_error=False))
    system, messages = build_messages(ctx, [add])
    assert system == system_prompt("Be brief.", [add])
    assert messages == [
        {"role": "user", "content": "17 plus 25?"},
        {"role": "assistant", "content": '{"tool":"add","arguments":{"a":17,"b":25}}'},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]


def test_branches_follow_tool_choice_and_force_a_reply_after_a_result() -> None:
    tools = [add, get_time]
    assert branches_for(tools, "auto", after_tool_result=False, chain_tool_calls=False) == (
        True,
        (add, get_time),
    )
    assert branches_for(tools, "none", after_tool_result=False, chain_tool_calls=False) == (
        True,
        (),
    )
    assert (
        branches_for(tools, "required", after_tool_result=False, chain_tool_calls=False)[0] is False
    )
    forced = {"type": "function", "function": {"name": "get_time"}}
    assert branches_for(tools, forced, after_tool_result=False, chain_tool_calls=False) == (
        False,
        (get_time,),
    )
    assert branches_for(tools, None, after_tool_result=True, chain_tool_calls=False) == (True, ())
    assert branches_for(tools, None, after_tool_result=True, chain_tool_calls=True)[1]
    with pytest.raises(ValueError, match="'nope', which is not a tool here"):
        branches_for(
            tools, {"function": {"name": "nope"}}, after_tool_result=False, chain_tool_calls=False
        )


def test_the_grammar_is_compact_json_with_one_branch_per_tool_and_closed_objects() -> None:
    grammar = build_grammar((True, (add,)), "json")
    head, _, schema_text = grammar.partition("start: %json ")
    assert head.startswith("%llguidance {}")
    schema = json.loads(schema_text)
    assert schema["x-guidance"]["whitespace_flexible"] is False
    call, reply = schema["anyOf"]
    assert list(call["properties"]) == ["tool", "arguments"]
    assert call["properties"]["tool"] == {"const": "add"}
    assert call["properties"]["arguments"]["additionalProperties"] is False
    assert call["properties"]["arguments"]["properties"]["a"]["type"] == "number"
    assert reply["properties"] == {"tool": {"const": "none"}, "reply": {"type": "string"}}
    only_tools = json.loads(build_grammar((False, (add,)), "json").partition("start: %json ")[2])
    assert len(only_tools["anyOf"]) == 1


def test_the_text_format_lets_a_reply_start_at_once_and_keeps_calls_compact_json() -> None:
    grammar = build_grammar((True, (add,)))  # "text" is the default
    head, _, rest = grammar.partition("start: call | REPLY\ncall: %json ")
    assert head == "%llguidance {}\n"
    schema_text, _, reply_rule = rest.partition("\nREPLY: ")
    # a reply opens with anything but "{", a fence or blank space: the first token decides
    assert reply_rule == "/[^{`\\s][\\s\\S]*/"
    schema = json.loads(schema_text)
    call, none = schema["anyOf"]
    assert call["properties"]["tool"] == {"const": "add"}
    assert none["properties"] == {"tool": {"const": "none"}, "reply": {"type": "string"}}
    # calls only: no plain reply branch
    assert "REPLY" not in build_grammar((False, (add,)))
    # a reply is due (after a tool result): the "none" object, as in the json format
    assert build_grammar((True, ())) == build_grammar((True, ()), "json")


def test_the_text_format_prompt_asks_for_plain_replies() -> None:
    text = system_prompt("Be brief.", [add])
    assert "plain spoken words" in text and "- none:" in text
    assert '{"tool": "none", "reply"' in system_prompt("Be brief.", [add], "json")
