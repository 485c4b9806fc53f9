"""Reference §3.3: protected speech, close commits the trailing transcript, user turn limits,
transcription timeout; and the lifecycle rules around them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.timeline import approx, record
from voxline import Agent, AgentSession, SessionClosedError
from voxline.testing import FakeActions, FakeAudioOutput, create_session, run_session


def _audio(session: Any) -> FakeAudioOutput:
    audio = session.output.audio
    assert isinstance(audio, FakeAudioOutput)
    return audio


async def _started(actions: FakeActions, **kwargs: Any) -> AgentSession[Any]:
    session = create_session(actions, **kwargs)
    audio = session.input.audio
    audio.push(60.0)  # type: ignore[union-attr]
    await session.start(Agent(instructions="Talk."))
    return session


@pytest.mark.virtual_time
async def test_queued_protected_speech_shields_the_speeches_behind_it() -> None:
    actions = FakeActions()
    for text in ("one", "two", "three"):
        actions.add_tts(2.0, input=text)
    session = await _started(actions)
    first = session.say("one")
    protected = session.say("two", allow_interruptions=False)
    third = session.say("three")
    await asyncio.sleep(1.0)
    session.interrupt()
    await first
    assert first.interrupted and not protected.interrupted and not third.interrupted
    await asyncio.sleep(0.5)
    with pytest.raises(RuntimeError, match="does not allow interruptions"):
        session.interrupt()
    await session.interrupt(force=True)
    assert protected.interrupted and third.interrupted
    await session.aclose()
    played = [
        (round(e.playback_position, 1), e.interrupted)
        for e in _audio(session).playback_finished_events
    ]
    assert played[0] == (0.8, True)
    assert all(interrupted for _, interrupted in played)


@pytest.mark.virtual_time
async def test_close_commits_the_trailing_user_transcript() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.05, 0.2, "hello there")
    session = await _started(actions, turn_handling={"turn_detection": "stt"})
    await asyncio.sleep(0.25)
    await session.aclose()
    users = [i for i in session.history.items if i.type == "message" and i.role == "user"]
    assert [u.text_content for u in users] == ["hello there"]


@pytest.mark.virtual_time
async def test_user_turn_exceeded_by_words() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 4.0, "one two three four five six seven eight nine ten")
    exceeded: list[Any] = []

    class Limited(Agent):
        async def on_user_turn_exceeded(self, ev: Any) -> None:
            exceeded.append(ev)

    session = create_session(actions, turn_handling={"user_turn_limit": {"max_words": 5}})
    timeline = record(session)
    timeline.origin = await run_session(session, Limited(instructions="Listen."))
    events = timeline.of("user_turn_exceeded")
    assert len(events) == 1 and events[0].reason == "max_words" and events[0].word_count >= 5
    assert exceeded == events


@pytest.mark.virtual_time
async def test_user_turn_exceeded_by_duration() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 4.0, "a long ramble")
    session = create_session(actions, turn_handling={"user_turn_limit": {"max_duration": 2.0}})
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Listen."))
    events = timeline.of("user_turn_exceeded")
    assert len(events) == 1 and events[0].reason == "max_duration"
    assert approx(timeline.at(events[0]), 2.5)


@pytest.mark.virtual_time
async def test_no_turn_limit_by_default() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 4.0, "one two three four five six seven eight nine ten")
    session = create_session(actions)
    timeline = record(session)
    await run_session(session, Agent(instructions="Listen."))
    assert timeline.of("user_turn_exceeded") == []


@pytest.mark.virtual_time
@pytest.mark.parametrize("transcript", ["", "I did say something"])
async def test_transcription_timeout(transcript: str) -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, transcript)
    session = create_session(actions, extra_kwargs={"transcription_timeout": 1.0})
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Listen."))
    events = timeline.of("user_transcription_timeout")
    if transcript:
        assert events == []
        return
    assert len(events) == 1
    assert approx(events[0].speech_duration, 2.0)
    assert approx(events[0].vad_speech_started_at - timeline.origin, 0.5)
    assert approx(timeline.at(events[0]), 3.5)


@pytest.mark.virtual_time
async def test_transcription_timeout_is_off_by_default() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "")
    session = create_session(actions)
    timeline = record(session)
    await run_session(session, Agent(instructions="Listen."))
    assert timeline.of("user_transcription_timeout") == []


@pytest.mark.virtual_time
async def test_user_goes_away_and_comes_back() -> None:
    actions = FakeActions()
    actions.add_user_speech(20.0, 21.0, "")
    session = create_session(actions, extra_kwargs={"user_away_timeout": 5.0})
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Listen."), drain_delay=1.0)
    states = [(b, round(t, 2)) for _, b, t in timeline.user_states()]
    assert states == [("away", 5.0), ("speaking", 20.0), ("listening", 21.5)]


@pytest.mark.virtual_time
async def test_methods_on_a_closed_session_raise_clear_errors() -> None:
    actions = FakeActions()
    session = await _started(actions)
    await session.aclose()
    await session.aclose()  # idempotent
    for call in (
        lambda: session.say("hi"),
        lambda: session.generate_reply(user_input="hi"),
        lambda: session.interrupt(),
        lambda: session.clear_user_turn(),
        lambda: session.commit_user_turn(),
        lambda: session.update_agent(Agent(instructions="x")),
    ):
        with pytest.raises(SessionClosedError, match="session is closed"):
            call()
    with pytest.raises(RuntimeError, match="already called"):
        await session.start(Agent(instructions="again"))


@pytest.mark.virtual_time
async def test_methods_before_start_raise() -> None:
    session: AgentSession[Any] = AgentSession()
    with pytest.raises(RuntimeError, match="call start"):
        session.say("hello")


@pytest.mark.virtual_time
async def test_manual_turns_commit_and_clear() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "first thing")
    actions.add_user_speech(3.0, 4.0, "second thing")
    actions.add_llm("Noted the second thing.", input="second thing")
    actions.add_tts(1.0)
    session = await _started(actions, turn_handling={"turn_detection": "manual"})
    timeline = record(session)
    await asyncio.sleep(2.5)
    assert [i for i in session.history.items if i.type == "message"] == []  # never automatic
    session.clear_user_turn()
    await asyncio.sleep(2.0)
    transcript = await session.commit_user_turn()
    assert transcript == "second thing"
    await asyncio.sleep(2.0)
    texts = [(i.role, i.text_content) for i in session.history.items if i.type == "message"]
    assert texts == [("user", "second thing"), ("assistant", "Noted the second thing.")]
    await session.aclose()
    assert [b for _, b, _ in timeline.agent_states()][:2] == ["thinking", "speaking"]


@pytest.mark.virtual_time
async def test_commit_user_turn_without_reply() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "just noting")
    session = await _started(actions, turn_handling={"turn_detection": "manual"})
    await asyncio.sleep(2.5)
    await session.commit_user_turn(skip_reply=True)
    await asyncio.sleep(1.0)
    texts = [(i.role, i.text_content) for i in session.history.items if i.type == "message"]
    assert texts == [("user", "just noting")]
    await session.aclose()


@pytest.mark.virtual_time
async def test_min_consecutive_speech_delay_spaces_speeches() -> None:
    actions = FakeActions()
    actions.add_tts(1.0, input="one", ttfb=0.0)
    actions.add_tts(1.0, input="two", ttfb=0.0)
    session = await _started(actions, extra_kwargs={"min_consecutive_speech_delay": 0.7})
    start = asyncio.get_running_loop().time()
    session.say("one")
    await session.say("two")
    await session.aclose()
    starts = [t - start for t in _audio(session).playback_started_at]
    assert approx(starts[0], 0.0) and approx(starts[1], 1.7)
