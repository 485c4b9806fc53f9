"""Text on its way to speech and to the screen: transforms, synchronized transcripts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.timeline import approx
from voxline import Agent, AgentSession
from voxline.testing import (
    FakeActions,
    FakeAudioInput,
    FakeTextOutput,
    FakeTTS,
    create_session,
    run_session,
)

MARKDOWN_REPLY = "**Sure!** See [the docs](https://example.com/docs) 🙂 for `details`."
SPOKEN = "Sure! See the docs for details."


@pytest.mark.virtual_time
async def test_tts_hears_filtered_text_while_the_transcript_keeps_the_original() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "help")
    actions.add_llm(MARKDOWN_REPLY)
    actions.add_tts(2.0, input=SPOKEN)
    session = create_session(actions)
    await run_session(session, Agent(instructions="Help."))
    tts = session.tts
    assert isinstance(tts, FakeTTS) and tts.inputs == [SPOKEN]
    said = [
        i.text_content
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]
    assert said == [MARKDOWN_REPLY]


@pytest.mark.virtual_time
async def test_transforms_can_be_disabled() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "help")
    actions.add_llm(MARKDOWN_REPLY)
    session = create_session(actions, extra_kwargs={"tts_text_transforms": None})
    await run_session(session, Agent(instructions="Help."))
    tts = session.tts
    assert isinstance(tts, FakeTTS) and tts.inputs == [MARKDOWN_REPLY]


TEN_WORDS = "one two three four five six seven eight nine ten"


@pytest.mark.virtual_time
@pytest.mark.parametrize("sync", [True, False])
async def test_transcript_follows_the_audio_clock(sync: bool) -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "count")
    actions.add_llm(TEN_WORDS)
    actions.add_tts(4.0)
    session = create_session(actions)
    session.output.sync_transcription = sync
    origin = await run_session(session, Agent(instructions="Count."))
    text = session.output.transcription
    assert isinstance(text, FakeTextOutput)
    assert "".join(text.pieces) == TEN_WORDS
    times = [t - origin for t in text.times]
    if not sync:
        assert max(times) <= 3.3 + 0.05  # all of it as soon as the LLM wrote it
        return
    # audio plays 3.5 - 7.5: words appear over that span, the last as the audio ends
    assert times[0] >= 3.5 - 0.05 and approx(times[-1], 7.5)
    fifth = next(t for t, p in zip(times, text.pieces) if "five" in p)
    assert 4.5 < fifth < 6.5


def _aligned_session(actions: FakeActions) -> AgentSession[Any]:
    return create_session(
        actions,
        extra_kwargs={"tts": FakeTTS(actions, aligned=True), "use_tts_aligned_transcript": True},
    )


@pytest.mark.virtual_time
async def test_aligned_transcript_follows_the_tts_word_timings_exactly() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "count")
    actions.add_llm(TEN_WORDS)
    actions.add_tts(5.0)  # the fake TTS puts a word every 0.5 s
    session = _aligned_session(actions)
    origin = await run_session(session, Agent(instructions="Count."))
    text = session.output.transcription
    assert isinstance(text, FakeTextOutput)
    assert [p.strip() for p in text.pieces] == TEN_WORDS.split()
    times = [round(t - origin, 3) for t in text.times]
    assert times == [round(3.5 + 0.5 * i, 3) for i in range(10)]


@pytest.mark.virtual_time
async def test_an_interrupted_aligned_transcript_stops_at_the_last_heard_word() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "count")
    actions.add_llm(TEN_WORDS)
    actions.add_tts(5.0)
    actions.add_user_speech(4.7, 6.0, "stop")  # interrupts at 5.2: 1.7 s into the audio
    session = _aligned_session(actions)
    await run_session(session, Agent(instructions="Count."))
    history = session.history.items
    said = [i for i in history if i.type == "message" and i.role == "assistant"]
    assert len(said) == 1 and said[0].interrupted
    assert said[0].text_content == "one two three four"  # words starting before 1.7 s


@pytest.mark.virtual_time
async def test_say_is_aligned_too() -> None:
    actions = FakeActions()
    actions.add_tts(2.0, input="hello big world now")
    session = _aligned_session(actions)
    audio = session.input.audio
    assert isinstance(audio, FakeAudioInput)
    audio.push(10.0)
    await session.start(Agent(instructions="Greet."))
    start = asyncio.get_running_loop().time()
    await session.say("hello big world now")
    text = session.output.transcription
    assert isinstance(text, FakeTextOutput)
    assert [round(t - start, 3) for t in text.times] == [0.2, 0.7, 1.2, 1.7]
    await session.aclose()
