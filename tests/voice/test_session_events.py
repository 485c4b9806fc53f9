"""Reference scenario 1: events, states and metrics of one plain turn, on the virtual clock."""

from __future__ import annotations

import pytest

from support.timeline import approx, assert_transitions, record
from voxline import Agent
from voxline.testing import FakeActions, FakeAudioOutput, create_session, run_session


@pytest.mark.virtual_time
async def test_events_and_metrics() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "Hello, how are you?")
    actions.add_llm("I'm doing well, thank you!")
    actions.add_tts(2.0)
    session = create_session(actions)
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Be nice."))

    items = timeline.items()
    assert [i.type for i in items] == ["agent_handoff", "message", "message"]
    user, assistant = items[1], items[2]
    assert user.role == "user" and user.text_content == "Hello, how are you?"
    assert assistant.role == "assistant" and assistant.text_content == "I'm doing well, thank you!"
    added = timeline.of("conversation_item_added")
    assert approx(timeline.at(added[1]), 3.0)
    assert approx(timeline.at(added[2]), 5.5)

    finals = [e for e in timeline.of("user_input_transcribed") if e.is_final]
    assert len(finals) == 1 and approx(timeline.at(finals[0]), 2.7)

    assert_transitions(
        timeline.user_states(), [("listening", "speaking", 0.5), ("speaking", "listening", 3.0)]
    )
    assert_transitions(
        timeline.agent_states(),
        [
            ("initializing", "listening", 0.0),
            ("listening", "thinking", 3.0),
            ("thinking", "speaking", 3.5),
            ("speaking", "listening", 5.5),
        ],
    )

    metrics = {m.metrics.type: m.metrics for m in timeline.of("metrics_collected")}
    assert approx(metrics["eou_metrics"].end_of_utterance_delay, 0.5)
    assert approx(metrics["eou_metrics"].transcription_delay, 0.2)
    assert approx(metrics["llm_metrics"].ttft, 0.1)
    assert approx(metrics["llm_metrics"].duration, 0.3)
    assert approx(metrics["tts_metrics"].ttfb, 0.2)
    assert approx(metrics["tts_metrics"].audio_duration, 2.0)

    assert approx(assistant.metrics["e2e_latency"], 1.0)
    assert approx(assistant.metrics["llm_node_ttft"], 0.1)
    assert approx(assistant.metrics["tts_node_ttfb"], 0.2)
    assert approx(user.metrics["end_of_turn_delay"], 0.5)

    audio = session.output.audio
    assert isinstance(audio, FakeAudioOutput)
    assert [round(e.playback_position, 3) for e in audio.playback_finished_events] == [2.0]
    assert not audio.playback_finished_events[0].interrupted
    assert [e.reason.value for e in timeline.of("close")] == ["user_initiated"]
    # closing resets the agent to initializing, and close is the last event
    assert timeline.agent_states(with_close=True)[-1][:2] == ("listening", "initializing")
    assert timeline.events[-1][0] == "close"


@pytest.mark.virtual_time
async def test_user_transcripts_of_a_turn_share_one_id_with_the_committed_message() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "Hello, how are you today?")
    actions.add_user_speech(4.0, 5.0, "Still there?")
    session = create_session(actions)
    timeline = record(session)
    await run_session(session, Agent(instructions="Listen."))
    transcribed = timeline.of("user_input_transcribed")
    assert [e.is_final for e in transcribed] == [False, True, True]
    first, second = transcribed[0].item_id, transcribed[2].item_id
    assert first and transcribed[1].item_id == first and second and second != first
    users = [i for i in session.history.items if i.type == "message" and i.role == "user"]
    assert [u.id for u in users] == [first, second]
