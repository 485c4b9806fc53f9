"""IVR detection: pressing keys, menu loops, long silences."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.timeline import approx, record
from voxline import Agent, AgentSession
from voxline.llm import FunctionToolCall
from voxline.testing import FakeActions, FakeLLM, create_session, run_session
from voxline.voice.ivr import IVRDetectionOptions, IVRDetector

MENU = "For billing press 1. For support press 2."


def test_loops_are_the_same_prompt_heard_again_despite_small_differences() -> None:
    detector = IVRDetector(IVRDetectionOptions(loop_repeats=3))
    assert detector.on_prompt(MENU) is None
    assert detector.on_prompt("Thanks for calling, please hold.") is None
    assert detector.on_prompt("for billing, press 1; for support press 2") is None
    loop = detector.on_prompt(MENU.upper())
    assert loop is not None and loop.repeats == 3
    assert detector.on_prompt(MENU) is None  # reported once
    with pytest.raises(ValueError, match="loop_repeats"):
        IVRDetectionOptions(loop_repeats=1)


@pytest.mark.virtual_time
async def test_the_model_presses_keys_and_invalid_keys_are_refused() -> None:
    actions = FakeActions()
    actions.add_llm(
        "",
        input=MENU,
        tool_calls=[
            FunctionToolCall(name="send_dtmf", arguments='{"digits": "1"}', call_id="d1"),
            FunctionToolCall(name="send_dtmf", arguments='{"digits": "9x"}', call_id="d2"),
        ],
    )
    sent: list[str] = []
    session: AgentSession[Any] = AgentSession(llm=FakeLLM(actions), ivr_detection=True)

    async def sink(digits: str) -> None:
        sent.append(digits)

    session.dtmf_sink = sink
    events: list[Any] = []
    session.on("dtmf_sent", events.append)
    await session.start(Agent(instructions="Navigate the menu to billing."))
    await session.generate_reply(user_input=MENU)
    assert sent == ["1"] and [e.digits for e in events] == ["1"]
    outputs = [
        (i.output, i.is_error) for i in session.history.items if i.type == "function_call_output"
    ]
    assert outputs[0] == ("pressed 1", False)
    assert outputs[1][1] and "0-9" in outputs[1][0]
    await session.aclose()


@pytest.mark.virtual_time
async def test_no_dtmf_tool_without_ivr_detection() -> None:
    session: AgentSession[Any] = AgentSession(llm=FakeLLM(FakeActions()))
    await session.start(Agent(instructions="Talk."))
    assert "send_dtmf" not in [t.name for t in session._tools_for(session.current_agent)]
    await session.aclose()


@pytest.mark.virtual_time
async def test_menu_loops_and_silence_are_detected_with_hooks() -> None:
    actions = FakeActions()
    for start in (0.5, 5.5, 10.5):
        actions.add_user_speech(start, start + 2.0, MENU)
    loops: list[Any] = []
    silences: list[Any] = []

    async def on_loop(ev: Any) -> None:
        loops.append(ev)

    options = IVRDetectionOptions(
        loop_repeats=3, silence_timeout=8.0, on_loop=on_loop, on_silence=silences.append
    )
    session = create_session(actions, extra_kwargs={"ivr_detection": options})
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Navigate."), drain_delay=12.0)
    detected = timeline.of("ivr_loop_detected")
    assert len(detected) == 1 and detected[0].repeats == 3
    assert approx(timeline.at(detected[0]), 12.7)  # the third prompt's final transcript
    assert loops == detected
    silent = timeline.of("ivr_silence_detected")
    assert len(silent) == 1 and approx(timeline.at(silent[0]), 13.0 + 8.0)
    assert silences == silent
    await asyncio.sleep(0)
