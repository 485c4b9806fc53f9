"""A whole turn through a memory room: the user's microphone reaches the session, the agent's
voice reaches the user's AudioStream, transcripts and state go out on LiveKit's conventions."""

from __future__ import annotations

import asyncio

import pytest

from room_io.helpers import settle, start
from voxline.testing.fakes import FakeActions


@pytest.mark.virtual_time
async def test_user_speaks_agent_answers_through_the_room() -> None:
    actions = FakeActions()
    actions.add_user_speech(1.0, 2.0, "what time is it")
    actions.add_llm("It is noon.")
    actions.add_tts(1.5)
    s = await start(before=[("alice", "standard")], actions=actions)
    alice = s.users[0]
    transcribed: list[tuple[str, bool]] = []
    s.session.on(
        "user_input_transcribed", lambda ev: transcribed.append((ev.transcript, ev.is_final))
    )
    assert s.session.room_io.linked_participant.identity == "alice"
    alice.talk(8.0)
    await asyncio.sleep(8.0)
    await settle()

    assert ("what time is it", True) in transcribed
    # the agent's 1.5 s answer reached the user's AudioStream
    assert alice.heard_seconds == pytest.approx(1.5, abs=0.06)
    # agent state mirrored in lk.agent.state, in order
    assert alice.agent_states == ["initializing", "listening", "thinking", "speaking", "listening"]
    assert s.agent_room.local_participant.attributes["lk.agent.state"] == "listening"

    agent_pub = next(iter(s.agent_room.local_participant.track_publications.values()))
    assert agent_pub.name == "roomio_audio"
    user_final = [
        t
        for t in alice.transcripts
        if t.sender == "alice" and t.attributes["lk.transcription_final"] == "true"
    ]
    assert [t.text for t in user_final] == ["what time is it"]
    assert user_final[0].attributes["lk.transcribed_track_id"] == alice.mic_sid
    assert user_final[0].attributes["lk.segment_id"].startswith("SG_")
    agent_t = [t for t in alice.transcripts if t.sender == "agent"]
    assert [t.text for t in agent_t] == ["It is noon."]
    assert agent_t[0].attributes["lk.transcription_final"] == "true"
    assert agent_t[0].attributes["lk.transcribed_track_id"] == agent_pub.sid
    assert agent_t[0].attributes["lk.segment_id"].startswith("SG_")
    await s.aclose()
