"""Reference scenarios 8-13: interruptions by speech, words, text; before speaking; noise."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.timeline import approx, assert_transitions, record
from voxline import Agent
from voxline.testing import FakeActions, FakeAudioOutput, create_session, run_session


def _audio(session: Any) -> FakeAudioOutput:
    audio = session.output.audio
    assert isinstance(audio, FakeAudioOutput)
    return audio


def _story(actions: FakeActions, tts_seconds: float = 10.0, llm_duration: float = 0.3) -> None:
    actions.add_user_speech(0.5, 2.5, "Tell me a story.")
    actions.add_llm("Once upon a time there was a brave little firefighter.", duration=llm_duration)
    actions.add_tts(tts_seconds)


@pytest.mark.virtual_time
@pytest.mark.parametrize("resume_false_interruption", [False, True])
async def test_interruption(resume_false_interruption: bool) -> None:
    actions = FakeActions()
    _story(actions)
    actions.add_user_speech(5.0, 6.0, "Stop!")
    session = create_session(
        actions,
        turn_handling={"interruption": {"resume_false_interruption": resume_false_interruption}},
    )
    timeline = record(session)
    agent = Agent(instructions="Tell stories.")
    timeline.origin = await run_session(session, agent)

    assert_transitions(
        timeline.agent_states(),
        [
            ("initializing", "listening", 0.0),
            ("listening", "thinking", 3.0),
            ("thinking", "speaking", 3.5),
            ("speaking", "listening", 5.5),
            ("listening", "thinking", 6.5),
            ("thinking", "listening", 6.5),
        ],
    )
    finished = _audio(session).playback_finished_events
    assert len(finished) == 1 and finished[0].interrupted
    assert approx(finished[0].playback_position, 2.0)
    items = agent.chat_ctx.items
    assert [i.type for i in items] == [
        "message",
        "agent_config_update",
        "message",
        "message",
        "message",
    ]
    assistant = items[3]
    assert assistant.type == "message" and assistant.role == "assistant" and assistant.interrupted
    full = "Once upon a time there was a brave little firefighter."
    heard = assistant.text_content or ""
    assert heard and full.startswith(heard) and len(heard) < len(full)


@pytest.mark.virtual_time
async def test_interruption_min_words_accumulates_across_utterances() -> None:
    actions = FakeActions()
    _story(actions, tts_seconds=5.0)
    actions.add_user_speech(5.0, 6.0, "Stop!", stt_delay=0.0)
    actions.add_user_speech(6.5, 7.5, "ok, stop!", stt_delay=0.0)
    session = create_session(actions, turn_handling={"interruption": {"min_words": 3}})
    agent = Agent(instructions="Tell stories.")
    timeline = record(session)
    timeline.origin = await run_session(session, agent)
    finished = _audio(session).playback_finished_events
    assert len(finished) == 1 and finished[0].interrupted
    assert approx(finished[0].playback_position, 4.0)
    users = [i for i in timeline.items() if i.type == "message" and i.role == "user"]
    assert [u.text_content for u in users] == ["Tell me a story.", "Stop! ok, stop!"]


@pytest.mark.virtual_time
async def test_interruption_disabled_plays_everything() -> None:
    actions = FakeActions()
    _story(actions, tts_seconds=5.0)
    actions.add_user_speech(5.0, 6.0, "Stop!", stt_delay=0.0)
    actions.add_user_speech(6.5, 7.5, "ok, stop!", stt_delay=0.0)
    session = create_session(actions, turn_handling={"interruption": {"enabled": False}})
    await run_session(session, Agent(instructions="Tell stories."))
    finished = _audio(session).playback_finished_events
    assert len(finished) == 1 and not finished[0].interrupted
    assert approx(finished[0].playback_position, 5.0)


@pytest.mark.virtual_time
async def test_interruption_by_text_input() -> None:
    actions = FakeActions()
    _story(actions)
    actions.add_llm("Sure, I stopped.", input="stop from text input")
    actions.add_tts(1.0)
    session = create_session(actions)
    agent = Agent(instructions="Tell stories.")
    timeline = record(session)

    async def type_at_five() -> None:
        audio = session.input.audio
        assert audio is not None
        origin = await audio.wait_first_frame()  # type: ignore[attr-defined]
        await asyncio.sleep(origin + 5.0 - asyncio.get_running_loop().time())
        session.interrupt()
        session.generate_reply(user_input="stop from text input")

    typer = asyncio.get_running_loop().create_task(type_at_five())
    timeline.origin = await run_session(session, agent)
    await typer
    finished = _audio(session).playback_finished_events
    assert [e.interrupted for e in finished] == [True, False]
    assert approx(finished[0].playback_position, 1.5)
    states = [(a, b) for a, b, _ in timeline.agent_states()]
    assert states[-3:] == [
        ("speaking", "thinking"),
        ("thinking", "speaking"),
        ("speaking", "listening"),
    ]
    roles = [
        (i.role, i.interrupted)
        for i in agent.chat_ctx.items
        if i.type == "message" and i.role != "system"
    ]
    assert roles == [("user", False), ("assistant", True), ("user", False), ("assistant", False)]


@pytest.mark.virtual_time
@pytest.mark.parametrize("resume_false_interruption", [False, True])
async def test_interruption_before_speaking(resume_false_interruption: bool) -> None:
    actions = FakeActions()
    _story(actions, llm_duration=1.0)
    actions.add_user_speech(3.0, 4.0, "Stop!")
    session = create_session(
        actions,
        turn_handling={"interruption": {"resume_false_interruption": resume_false_interruption}},
    )
    agent = Agent(instructions="Tell stories.")
    timeline = record(session)
    timeline.origin = await run_session(session, agent)
    assert_transitions(
        timeline.agent_states(),
        [
            ("initializing", "listening", 0.0),
            ("listening", "thinking", 3.0),
            ("thinking", "listening", 3.5),
            ("listening", "thinking", 4.5),
            ("thinking", "listening", 4.5),
        ],
    )
    assert _audio(session).playback_finished_events == []
    messages = [i for i in agent.chat_ctx.items if i.type == "message" and i.role != "system"]
    assert [(m.role, m.text_content) for m in messages] == [
        ("user", "Tell me a story."),
        ("user", "Stop!"),
    ]


@pytest.mark.virtual_time
async def test_interrupt_before_speaking_with_pausable_audio() -> None:
    actions = FakeActions()
    _story(actions, llm_duration=1.0)
    actions.add_user_speech(3.0, 4.0, "Stop!")
    session = create_session(actions, can_pause_audio=True)
    agent = Agent(instructions="Tell stories.")
    timeline = record(session)
    timeline.origin = await run_session(session, agent)
    assert "speaking" not in [b for _, b, _ in timeline.agent_states()]
    finished = _audio(session).playback_finished_events
    assert len(finished) == 1 and finished[0].interrupted
    assert finished[0].playback_position == 0.0
    assert not [i for i in agent.chat_ctx.items if i.type == "message" and i.role == "assistant"]


@pytest.mark.virtual_time
async def test_false_interruption_before_speaking_resumes() -> None:
    actions = FakeActions()
    _story(actions, tts_seconds=5.0)
    actions.add_user_speech(3.0, 3.3, "")  # noise only the VAD hears
    session = create_session(actions, can_pause_audio=True)
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Tell stories."))
    speaking = [t for _, b, t in timeline.agent_states() if b == "speaking"]
    assert len(speaking) == 1 and approx(speaking[0], 3.8)
    finished = _audio(session).playback_finished_events
    assert len(finished) == 1 and not finished[0].interrupted
    assert approx(finished[0].playback_position, 5.0)


@pytest.mark.virtual_time
async def test_false_interruption_while_speaking_resumes_after_timeout() -> None:
    actions = FakeActions()
    _story(actions, tts_seconds=6.0)
    actions.add_user_speech(4.0, 4.8, "")  # noise: long enough to pause, no words
    session = create_session(actions, can_pause_audio=True)
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Tell stories."))
    assert_transitions(
        timeline.agent_states(),
        [
            ("initializing", "listening", 0.0),
            ("listening", "thinking", 3.0),
            ("thinking", "speaking", 3.5),
            ("speaking", "listening", 4.5),
            ("listening", "speaking", 7.3),  # EOS 5.3 + false_interruption_timeout 2.0
            ("speaking", "listening", None),
        ],
    )
    resumed = timeline.of("agent_false_interruption")
    assert len(resumed) == 1 and resumed[0].resumed and approx(timeline.at(resumed[0]), 7.3)
    finished = _audio(session).playback_finished_events
    assert len(finished) == 1 and not finished[0].interrupted
    assert approx(finished[0].playback_position, 6.0)


@pytest.mark.virtual_time
@pytest.mark.parametrize(("warmup", "stopped_at"), [(3.0, 5.5), (None, 4.5)])
async def test_aec_warmup_blocks_audio_interruptions(
    warmup: float | None, stopped_at: float
) -> None:
    """The agent's own voice echoing back must not interrupt it right after it starts
    speaking; words still end the turn (and the speech) when the user really talks."""
    actions = FakeActions()
    _story(actions, tts_seconds=15.0)
    actions.add_user_speech(4.0, 5.0, "Stop!")
    session = create_session(actions, extra_kwargs={"aec_warmup_duration": warmup})
    await run_session(session, Agent(instructions="Tell stories."))
    finished = _audio(session).playback_finished_events
    assert len(finished) == 1 and finished[0].interrupted
    assert approx(finished[0].playback_position, stopped_at - 3.5)
