"""Text mode: typed lines become user turns, the agent's transcript is printed."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxline import Agent, AgentSession
from voxline.console import ConsoleIO, ConsoleTextOutput, TextConsole, stdin_lines
from voxline.testing import FakeActions, FakeLLM


def _text_session(actions: FakeActions) -> AgentSession[Any]:
    return AgentSession(llm=FakeLLM(actions))


async def _lines(*items: str, gap: float = 0.0) -> AsyncIterator[str]:
    for item in items:
        if gap:
            await asyncio.sleep(gap)
        yield item


@pytest.mark.virtual_time
async def test_each_line_is_a_user_turn_answered_in_order() -> None:
    actions = FakeActions()
    actions.add_llm("Hello! How can I help?", input="hi")
    actions.add_llm("Goodbye.", input="bye")
    session = _text_session(actions)
    out = io.StringIO()
    text_out = ConsoleTextOutput(out)
    session.output.transcription = text_out
    console = TextConsole(session, lines=_lines("  hi ", "", "bye"))
    task = console.start()  # before start(): it waits for the session to run
    await session.start(Agent(instructions="Be brief."))
    await asyncio.wait_for(console.ended.wait(), 10)
    await task
    await session.aclose()

    assert console.sent == ["hi", "bye"]
    assert out.getvalue() == "agent: Hello! How can I help?\nagent: Goodbye.\n"
    assert text_out.segments == ["Hello! How can I help?", "Goodbye."]
    said = [(m.role, m.text_content) for m in session.history.items if m.type == "message"]
    assert said[-4:] == [
        ("user", "hi"),
        ("assistant", "Hello! How can I help?"),
        ("user", "bye"),
        ("assistant", "Goodbye."),
    ]


@pytest.mark.virtual_time
async def test_without_waiting_a_new_line_interrupts_the_reply() -> None:
    actions = FakeActions()
    actions.add_llm("A long answer that takes a while.", input="first", duration=2.0)
    actions.add_llm("Second.", input="second")
    session = _text_session(actions)
    session.output.transcription = ConsoleTextOutput(io.StringIO())
    await session.start(Agent(instructions="x"))
    console = TextConsole(session, lines=_lines("first", "second", gap=0.5), wait_for_reply=False)
    await console.run()
    await asyncio.sleep(1.0)
    await session.aclose()
    said = [(m.role, m.text_content) for m in session.history.items if m.type == "message"]
    assert [text for role, text in said if role == "user"] == ["first", "second"]
    assert [text for role, text in said if role == "assistant"] == ["Second."]


@pytest.mark.virtual_time
async def test_the_text_console_stops_when_the_session_closes() -> None:
    actions = FakeActions()
    session = _text_session(actions)
    await session.start(Agent(instructions="x"))
    await session.aclose()
    console = TextConsole(session, lines=_lines("hello"))
    await asyncio.wait_for(console.run(), 1)
    assert console.sent == [] and console.ended.is_set()


@pytest.mark.virtual_time
async def test_console_io_feeds_typed_lines_and_finishes_when_they_end() -> None:
    actions = FakeActions()
    actions.add_llm("Pong.", input="ping")
    out = io.StringIO()
    console_io = ConsoleIO(text_input=_lines("ping"), text_output=ConsoleTextOutput(out))
    session = _text_session(actions)
    console_io.attach(session)
    await session.start(Agent(instructions="x"))
    await asyncio.wait_for(console_io.wait_finished(settle=0.2), 10)
    await console_io.aclose()
    assert session.lifecycle == "closed"
    assert out.getvalue() == "agent: Pong.\n"


async def test_stdin_lines_reads_a_stream_on_a_thread() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "r") as reader:
        lines = stdin_lines(reader)
        first = asyncio.ensure_future(lines.__anext__())
        await asyncio.sleep(0.05)
        assert not first.done()  # blocked on the pipe, without blocking the loop
        os.write(write_fd, b"hello there\r\nsecond\n")
        os.close(write_fd)
        assert await asyncio.wait_for(first, 5) == "hello there"
        rest = await asyncio.wait_for(_rest(lines), 5)
    assert rest == ["second"]


async def _rest(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]


async def test_stdin_lines_defaults_to_sys_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a\nb"))
    assert await asyncio.wait_for(_rest(stdin_lines()), 5) == ["a", "b"]


async def test_console_text_output_streams_one_line_per_segment() -> None:
    out = io.StringIO()
    text = ConsoleTextOutput(out, prefix="bot> ")
    text.flush()  # nothing captured: prints nothing
    for piece in ["Hel", "lo", "", " you"]:
        await text.capture_text(piece)
    assert out.getvalue() == "bot> Hello you"
    text.flush()
    await text.capture_text("Next")
    text.flush()
    assert out.getvalue() == "bot> Hello you\nbot> Next\n"
    assert text.segments == ["Hello you", "Next"]
