"""Unit tests of the turn engine: exact action sequences on a hand-driven clock.

No event loop: `drive()` feeds the inputs in time order and a `Tick(deadline)` whenever
`next_deadline()` falls before the next input, exactly like the async shell does. Times are
binary fractions (0.25, 0.375, ...) so every expected time compares exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

import pytest

from voxline.voice.turn_options import (
    EndpointingOptions,
    InterruptionOptions,
    PreemptiveGenerationOptions,
    UserTurnLimitOptions,
)
from voxline.voice.turns import (
    AgentChanged,
    CancelPreemptiveReply,
    ClearTurn,
    CommitRequested,
    CommitUserTurn,
    InterruptSpeech,
    PauseSpeech,
    RequestTurnPrediction,
    ResumeSpeech,
    SetUserState,
    SpeechEnded,
    SpeechStarted,
    StartPreemptiveReply,
    SttEndOfSpeech,
    Tick,
    Transcript,
    TranscriptionTimedOut,
    TurnAction,
    TurnConfig,
    TurnEngine,
    TurnInput,
    TurnPrediction,
    UserActivity,
    UserTurnExceeded,
)

Timeline = list[tuple[float, TurnAction]]
A = TypeVar("A", bound=TurnAction)

_MAX_TICKS = 1000


# ---------------------------------------------------------------- driver and helpers


def drive(
    engine: TurnEngine, events: Iterable[TurnInput], *, until: float | None = None
) -> Timeline:
    """Feed `events` in time order, ticking every deadline due before the next event.

    After the last event, deadlines up to `until` (all of them when None) are ticked too.
    Returns the `(time, action)` pairs in the order the engine produced them. A deadline that
    does not move past the tick that was fed for it would make the shell spin: that fails.
    """
    timeline: Timeline = []
    now = -math.inf

    def tick_through(limit: float, *, inclusive: bool) -> None:
        nonlocal now
        for _ in range(_MAX_TICKS):
            deadline = engine.next_deadline()
            if deadline is None or deadline > limit or (deadline == limit and not inclusive):
                return
            at = max(now, deadline)
            now = at
            timeline.extend((at, action) for action in engine.feed(Tick(at)))
            after = engine.next_deadline()
            assert after is None or after > at, (
                f"next_deadline() is still {after} after Tick({at}): the shell would spin"
            )
        raise AssertionError(f"more than {_MAX_TICKS} ticks before t={limit}")

    for event in sorted(events, key=lambda e: e.t):
        tick_through(event.t, inclusive=False)
        now = max(now, event.t)
        timeline.extend((event.t, action) for action in engine.feed(event))
    tick_through(math.inf if until is None else until, inclusive=True)
    return timeline


def make(**config: Any) -> TurnEngine:
    return TurnEngine(TurnConfig(**config))


def speech(
    start: float, end: float, *, heard_after: float = 0.0, silence: float = 0.0
) -> list[TurnInput]:
    """VAD start/end of one utterance; detection lags the real times by the given amounts."""
    return [SpeechStarted(start + heard_after, start), SpeechEnded(end + silence, end)]


def final(t: float, text: str) -> Transcript:
    return Transcript(t, text, final=True)


def interim(t: float, text: str) -> Transcript:
    return Transcript(t, text, final=False)


def agent_speaking(t: float, *, interruptible: bool = True) -> AgentChanged:
    return AgentChanged(t, "speaking", speech_active=True, interruptible=interruptible)


def agent_thinking(t: float) -> AgentChanged:
    return AgentChanged(t, "thinking", speech_active=True, interruptible=True)


def agent_listening(t: float) -> AgentChanged:
    return AgentChanged(t, "listening", speech_active=False, interruptible=True)


def speaking(at: float) -> SetUserState:
    return SetUserState("speaking", at)


def listening(at: float) -> SetUserState:
    return SetUserState("listening", at)


def away(at: float) -> SetUserState:
    return SetUserState("away", at)


def commit(
    transcript: str,
    started: float | None,
    stopped: float | None,
    delay: float | None,
    transcription_delay: float | None,
    *,
    reply: bool = True,
) -> CommitUserTurn:
    return CommitUserTurn(
        transcript=transcript,
        started_speaking_at=started,
        stopped_speaking_at=stopped,
        end_of_turn_delay=delay,
        transcription_delay=transcription_delay,
        reply=reply,
    )


def of_type(timeline: Timeline, kind: type[A]) -> list[tuple[float, A]]:
    return [(t, a) for t, a in timeline if isinstance(a, kind)]


# ---------------------------------------------------------------- the driver itself


def test_drive_ticks_deadlines_between_events_in_time_order() -> None:
    engine = make()
    # given out of order on purpose: the driver sorts by time
    timeline = drive(engine, [final(2.375, "hi"), *speech(1.0, 2.0)])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.5, commit("hi", 1.0, 2.0, 0.5, 0.375)),
    ]
    assert engine.next_deadline() is None


def test_drive_stops_at_until_and_can_resume() -> None:
    engine = make()
    assert drive(engine, [*speech(1.0, 2.0), final(2.125, "hi")], until=2.25) == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
    ]
    assert engine.next_deadline() == 2.5
    assert engine.transcript == "hi"
    assert drive(engine, []) == [(2.5, commit("hi", 1.0, 2.0, 0.5, 0.125))]
    assert engine.transcript == ""


# ---------------------------------------------------------------- VAD endpointing


def test_vad_commit_at_last_speech_end_plus_min_delay() -> None:
    # VAD reports the start 0.25 s late and the end after 0.25 s of silence
    timeline = drive(
        make(), [*speech(1.0, 2.0, heard_after=0.25, silence=0.25), final(2.375, "hello there")]
    )
    assert timeline == [
        (1.25, speaking(1.0)),  # the user state changes at the real start
        (2.25, listening(2.25)),  # ... and back at the moment VAD decided
        (2.5, commit("hello there", 1.0, 2.0, 0.5, 0.375)),  # 2.0 + min_delay, not 2.375 + 0.5
    ]


def test_vad_commit_uses_configured_min_delay() -> None:
    engine = make(endpointing=EndpointingOptions(min_delay=0.25))
    timeline = drive(engine, [*speech(1.0, 2.0), final(2.125, "hi")])
    assert of_type(timeline, CommitUserTurn) == [(2.25, commit("hi", 1.0, 2.0, 0.25, 0.125))]


def test_vad_final_before_speech_end_commits_at_end_plus_min_delay() -> None:
    timeline = drive(make(), [*speech(1.0, 2.0), final(1.5, "early words")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.5, commit("early words", 1.0, 2.0, 0.5, 0.0)),
    ]


def test_vad_final_after_deadline_commits_on_arrival() -> None:
    timeline = drive(make(), [*speech(1.0, 2.0), final(3.0, "slow stt")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (3.0, commit("slow stt", 1.0, 2.0, 1.0, 1.0)),
    ]


def test_vad_new_speech_before_deadline_restarts_the_decision() -> None:
    timeline = drive(
        make(),
        [
            *speech(1.0, 2.0),
            final(2.125, "hello"),  # commit would be due at 2.5
            SpeechStarted(2.375, 2.25),  # ... but the user goes on
            final(3.0, "world"),
            SpeechEnded(3.5, 3.5),
        ],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.375, speaking(2.25)),
        (3.5, listening(3.5)),
        (4.0, commit("hello world", 1.0, 3.5, 0.5, 0.0)),
    ]


def test_vad_no_commit_without_a_final_transcript_when_stt_is_expected() -> None:
    engine = make()
    timeline = drive(engine, [*speech(1.0, 2.0), interim(1.5, "maybe")], until=60.0)
    assert timeline == [(1.0, speaking(1.0)), (2.0, listening(2.0))]
    assert engine.next_deadline() is None


def test_vad_empty_final_transcript_does_not_commit() -> None:
    timeline = drive(make(), [*speech(1.0, 2.0), final(2.125, "   ")], until=60.0)
    assert of_type(timeline, CommitUserTurn) == []


def test_vad_repeated_speech_started_is_ignored() -> None:
    timeline = drive(
        make(), [SpeechStarted(1.0, 1.0), SpeechStarted(1.5, 1.25), SpeechEnded(2.0, 2.0)]
    )
    assert timeline == [(1.0, speaking(1.0)), (2.0, listening(2.0))]


def test_vad_consecutive_turns_are_independent() -> None:
    timeline = drive(
        make(),
        [*speech(1.0, 2.0), final(2.125, "first"), *speech(4.0, 5.0), final(5.25, "second")],
    )
    assert of_type(timeline, CommitUserTurn) == [
        (2.5, commit("first", 1.0, 2.0, 0.5, 0.125)),
        (5.5, commit("second", 4.0, 5.0, 0.5, 0.25)),
    ]


# ---------------------------------------------------------------- dynamic endpointing


def test_dynamic_endpointing_alpha_zero_follows_the_last_pause_within_bounds() -> None:
    # alpha=0: the learned pause is the last pause seen inside a turn, clamped to the bounds
    engine = make(
        endpointing=EndpointingOptions(mode="dynamic", min_delay=0.5, max_delay=2.0, alpha=0.0)
    )
    timeline = drive(
        engine,
        [
            # turn 1: a 1.5 s pause (the transcript was late, so nothing committed)
            *speech(1.0, 2.0),
            *speech(3.5, 4.0),
            final(4.125, "a b"),
            # turn 2: a 5 s pause -> clamped to max_delay
            *speech(6.0, 7.0),
            *speech(12.0, 13.0),
            final(13.125, "c"),
            # turn 3: a 0.25 s pause -> clamped to min_delay
            *speech(16.0, 17.0),
            *speech(17.25, 18.0),
            final(18.125, "d"),
        ],
    )
    commits = [(t, a.end_of_turn_delay) for t, a in of_type(timeline, CommitUserTurn)]
    assert commits == [(5.5, 1.5), (15.0, 2.0), (18.5, 0.5)]


def test_dynamic_endpointing_min_delay_grows_toward_observed_pauses() -> None:
    # the learned pause starts at min_delay and is smoothed: 0.5 * 0.5 + 0.5 * 1.0 = 0.75
    engine = make(
        endpointing=EndpointingOptions(mode="dynamic", min_delay=0.5, max_delay=3.0, alpha=0.5)
    )
    timeline = drive(
        engine,
        [
            *speech(1.0, 2.0),
            *speech(3.0, 4.0),  # a 1.0 s pause inside the turn
            final(3.25, "hello there"),
            *speech(6.0, 7.0),  # the next turn keeps what was learned
            final(7.125, "ok"),
        ],
    )
    assert of_type(timeline, CommitUserTurn) == [
        (4.75, commit("hello there", 1.0, 4.0, 0.75, 0.0)),
        (7.75, commit("ok", 6.0, 7.0, 0.75, 0.125)),
    ]


def test_fixed_endpointing_does_not_learn_pauses() -> None:
    engine = make(endpointing=EndpointingOptions(mode="fixed", min_delay=0.5, max_delay=3.0))
    timeline = drive(engine, [*speech(1.0, 2.0), *speech(3.0, 4.0), final(3.25, "hello there")])
    assert of_type(timeline, CommitUserTurn) == [(4.5, commit("hello there", 1.0, 4.0, 0.5, 0.0))]


# ---------------------------------------------------------------- turn detector model


@pytest.mark.parametrize(
    ("probability", "threshold", "commit_at"),
    [
        (0.9, 0.5, 2.5),  # likely done: min_delay after the speech end
        (0.5, 0.5, 2.5),  # the threshold itself counts as likely
        (0.1, 0.5, 5.0),  # unlikely: max_delay
        (0.75, 0.8, 5.0),  # the detector's own threshold applies
    ],
)
def test_model_prediction_picks_the_delay(
    probability: float, threshold: float, commit_at: float
) -> None:
    engine = make(detection="model", unlikely_threshold=threshold)
    timeline = drive(
        engine, [*speech(1.0, 2.0), final(2.25, "hello"), TurnPrediction(2.375, probability)]
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.25, RequestTurnPrediction("hello")),
        (commit_at, commit("hello", 1.0, 2.0, commit_at - 2.0, 0.25)),
    ]


def test_model_without_prediction_waits_max_delay() -> None:
    timeline = drive(make(detection="model"), [*speech(1.0, 2.0), final(2.25, "hello")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.25, RequestTurnPrediction("hello")),
        (5.0, commit("hello", 1.0, 2.0, 3.0, 0.25)),
    ]


def test_model_late_likely_prediction_commits_on_arrival() -> None:
    timeline = drive(
        make(detection="model"),
        [*speech(1.0, 2.0), final(2.25, "hello"), TurnPrediction(3.0, 0.9)],
    )
    assert of_type(timeline, CommitUserTurn) == [(3.0, commit("hello", 1.0, 2.0, 1.0, 0.25))]


def test_model_requests_at_speech_end_when_the_final_came_first() -> None:
    timeline = drive(
        make(detection="model"),
        [*speech(1.0, 2.0), final(1.5, "hello"), TurnPrediction(2.125, 0.9)],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.0, RequestTurnPrediction("hello")),
        (2.5, commit("hello", 1.0, 2.0, 0.5, 0.0)),
    ]


def test_model_prediction_for_an_abandoned_decision_is_ignored() -> None:
    timeline = drive(
        make(detection="model"),
        [
            *speech(1.0, 2.0),
            final(2.125, "hello"),
            SpeechStarted(2.25, 2.25),  # the user resumes before the verdict
            TurnPrediction(2.375, 0.9),  # stale: must not shorten anything
            final(2.75, "again"),
            SpeechEnded(3.0, 3.0),
        ],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.125, RequestTurnPrediction("hello")),
        (2.25, speaking(2.25)),
        (3.0, listening(3.0)),
        (3.0, RequestTurnPrediction("hello again")),
        (6.0, commit("hello again", 1.0, 3.0, 3.0, 0.0)),
    ]


# ---------------------------------------------------------------- manual turns


def test_manual_never_commits_by_itself_and_commit_requested_commits() -> None:
    timeline = drive(
        make(detection="manual"),
        [*speech(1.0, 2.0), final(2.25, "hello"), CommitRequested(10.0)],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (10.0, commit("hello", 1.0, 2.0, 8.0, 0.25)),
    ]


def test_manual_commit_with_skip_reply() -> None:
    timeline = drive(
        make(detection="manual"),
        [*speech(1.0, 2.0), final(2.25, "hello"), CommitRequested(3.0, skip_reply=True)],
    )
    assert of_type(timeline, CommitUserTurn) == [
        (3.0, commit("hello", 1.0, 2.0, 1.0, 0.25, reply=False))
    ]


def test_manual_clear_turn_discards_the_transcript() -> None:
    engine = make(detection="manual")
    timeline = drive(
        engine,
        [
            *speech(1.0, 2.0),
            final(2.25, "forget this"),
            ClearTurn(3.0),
            CommitRequested(4.0),  # nothing left to commit
            *speech(5.0, 6.0),
            final(6.25, "second"),
            CommitRequested(7.0),
        ],
    )
    assert of_type(timeline, CommitUserTurn) == [(7.0, commit("second", 5.0, 6.0, 1.0, 0.25))]


def test_manual_clear_turn_resumes_a_paused_agent() -> None:
    timeline = drive(
        make(detection="manual", can_pause=True),
        [agent_speaking(0.0), *speech(1.0, 2.0), final(2.25, "uh"), ClearTurn(5.0)],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.5, PauseSpeech()),
        (2.0, listening(2.0)),
        # at 4.0 the undecided transcript holds the resume; clearing it lets the agent go on
        (5.0, ResumeSpeech(false_interruption=True)),
    ]


# ---------------------------------------------------------------- interruptions


def test_interrupt_after_min_duration_of_user_speech() -> None:
    timeline = drive(make(), [agent_speaking(0.0), *speech(1.0, 2.0), final(2.25, "stop please")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.5, InterruptSpeech("audio")),
        (2.0, listening(2.0)),
        # already interrupted: no second InterruptSpeech, and the turn gets a reply
        (2.5, commit("stop please", 1.0, 2.0, 0.5, 0.25)),
    ]


def test_interrupt_immediately_when_detected_after_min_duration() -> None:
    timeline = drive(make(), [agent_speaking(0.0), *speech(1.0, 2.0, heard_after=0.75)])
    assert timeline == [
        (1.75, speaking(1.0)),
        (1.75, InterruptSpeech("audio")),
        (2.0, listening(2.0)),
    ]


def test_interrupt_uses_configured_min_duration() -> None:
    engine = make(interruption=InterruptionOptions(min_duration=1.0))
    timeline = drive(engine, [agent_speaking(0.0), *speech(1.0, 3.0)])
    assert of_type(timeline, InterruptSpeech) == [(2.0, InterruptSpeech("audio"))]


def test_short_noise_does_not_interrupt() -> None:
    timeline = drive(make(), [agent_speaking(0.0), *speech(1.0, 1.25)], until=60.0)
    assert timeline == [(1.0, speaking(1.0)), (1.25, listening(1.25))]


def test_no_audio_or_word_interruption_when_disabled() -> None:
    engine = make(interruption=InterruptionOptions(enabled=False, min_words=2))
    timeline = drive(
        engine,
        [agent_speaking(0.0), *speech(1.0, 3.0), interim(2.0, "one two three four")],
        until=60.0,
    )
    assert timeline == [(1.0, speaking(1.0)), (3.0, listening(3.0))]


def test_uninterruptible_speech_is_not_interrupted_and_turn_gets_no_reply() -> None:
    timeline = drive(
        make(), [agent_speaking(0.0, interruptible=False), *speech(1.0, 2.0), final(2.25, "hey")]
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.5, commit("hey", 1.0, 2.0, 0.5, 0.25, reply=False)),
    ]


def test_commit_interrupts_speech_that_audio_did_not() -> None:
    # the agent is preparing a reply (no pausing possible): a real turn interrupts it
    timeline = drive(make(), [agent_thinking(0.0), *speech(1.0, 1.25), final(1.5, "wait")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.25, listening(1.25)),
        (1.75, InterruptSpeech("user_turn")),
        (1.75, commit("wait", 1.0, 1.25, 0.5, 0.25)),
    ]


def test_agent_starting_to_speak_over_the_user_is_interrupted() -> None:
    timeline = drive(make(), [SpeechStarted(1.0, 1.0), agent_speaking(2.0), SpeechEnded(3.0, 3.0)])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, InterruptSpeech("audio")),
        (3.0, listening(3.0)),
    ]


def test_min_words_blocks_audio_interruption_and_commit_until_enough_words() -> None:
    engine = make(interruption=InterruptionOptions(min_words=3))
    timeline = drive(
        engine,
        [
            agent_speaking(0.0),
            *speech(1.0, 2.0),
            final(1.75, "hello there"),  # 2 words: no interruption at 1.5, no commit at 2.5
            *speech(3.0, 4.0),
            final(3.75, "stop"),  # 3 words accumulated across the two utterances
        ],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (3.0, speaking(3.0)),
        (3.75, InterruptSpeech("words")),
        (4.0, listening(4.0)),
        (4.5, commit("hello there stop", 1.0, 4.0, 0.5, 0.0)),
    ]


def test_min_words_counts_interim_words() -> None:
    engine = make(interruption=InterruptionOptions(min_words=3))
    timeline = drive(
        engine,
        [
            agent_speaking(0.0),
            *speech(1.0, 2.0),
            interim(1.25, "one two"),
            interim(1.75, "one two three"),
            final(2.25, "one two three"),
        ],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.75, InterruptSpeech("words")),
        (2.0, listening(2.0)),
        (2.5, commit("one two three", 1.0, 2.0, 0.5, 0.25)),
    ]


def test_without_vad_one_transcribed_word_interrupts() -> None:
    engine = make(detection="stt", has_vad=False)
    timeline = drive(engine, [agent_speaking(0.0), final(1.0, "hey there"), SttEndOfSpeech(2.0)])
    assert timeline == [
        (1.0, InterruptSpeech("words")),
        (2.5, commit("hey there", 1.0, 2.0, 0.5, 0.0)),
    ]


# ---------------------------------------------------------------- pausing (can_pause)


def test_pre_pause_while_thinking_resumes_after_noise() -> None:
    engine = make(can_pause=True)
    timeline = drive(engine, [agent_thinking(0.0), *speech(1.0, 1.25)], until=60.0)
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.0, PauseSpeech()),
        (1.25, listening(1.25)),
        (1.25, ResumeSpeech(false_interruption=False)),
    ]
    assert not engine.paused


def test_pre_pause_with_a_transcript_ends_in_an_interrupting_commit() -> None:
    engine = make(can_pause=True)
    timeline = drive(engine, [agent_thinking(0.0), *speech(1.0, 1.25), final(1.125, "wait")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.0, PauseSpeech()),
        (1.25, listening(1.25)),
        (1.75, InterruptSpeech("user_turn")),
        (1.75, commit("wait", 1.0, 1.25, 0.5, 0.0)),
    ]
    assert not engine.paused


def test_pre_pause_resumes_when_the_pending_interim_finalizes_empty() -> None:
    engine = make(can_pause=True)
    timeline = drive(
        engine,
        [agent_thinking(0.0), *speech(1.0, 1.25), interim(1.125, "uh"), final(1.5, "")],
        until=60.0,
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.0, PauseSpeech()),
        (1.25, listening(1.25)),
        # the interim held the resume back; once STT says "nothing", the reply must go on
        (1.5, ResumeSpeech(false_interruption=False)),
    ]
    assert not engine.paused


def test_false_interruption_pauses_then_resumes_after_timeout() -> None:
    engine = make(can_pause=True)
    timeline = drive(engine, [agent_speaking(0.0), *speech(1.0, 2.0)], until=3.0)
    assert timeline == [(1.0, speaking(1.0)), (1.5, PauseSpeech()), (2.0, listening(2.0))]
    assert engine.paused and engine.agent_paused_by_user
    assert engine.next_deadline() == 4.0  # SpeechEnded time + false_interruption_timeout
    assert drive(engine, [], until=60.0) == [(4.0, ResumeSpeech(false_interruption=True))]
    assert not engine.paused and not engine.agent_paused_by_user


def test_false_interruption_timeout_is_configurable() -> None:
    engine = make(can_pause=True, interruption=InterruptionOptions(false_interruption_timeout=1.0))
    timeline = drive(engine, [agent_speaking(0.0), *speech(1.0, 2.0)], until=60.0)
    assert of_type(timeline, ResumeSpeech) == [(3.0, ResumeSpeech(false_interruption=True))]


def test_committed_turn_suppresses_the_resume() -> None:
    engine = make(can_pause=True)
    timeline = drive(
        engine, [agent_speaking(0.0), *speech(1.0, 2.0), final(2.25, "hold on")], until=60.0
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.5, PauseSpeech()),
        (2.0, listening(2.0)),
        (2.5, InterruptSpeech("user_turn")),
        (2.5, commit("hold on", 1.0, 2.0, 0.5, 0.25)),
    ]
    assert not engine.paused


def test_speech_during_false_interruption_window_restarts_the_timeout() -> None:
    engine = make(can_pause=True)
    timeline = drive(
        engine, [agent_speaking(0.0), *speech(1.0, 2.0), *speech(3.0, 3.25)], until=60.0
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.5, PauseSpeech()),
        (2.0, listening(2.0)),
        (3.0, speaking(3.0)),  # no second PauseSpeech: already paused
        (3.25, listening(3.25)),
        (5.25, ResumeSpeech(false_interruption=True)),
    ]


def test_no_pausing_without_resume_false_interruption() -> None:
    engine = make(can_pause=True, interruption=InterruptionOptions(resume_false_interruption=False))
    timeline = drive(engine, [agent_speaking(0.0), *speech(1.0, 2.0)], until=60.0)
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.5, InterruptSpeech("audio")),
        (2.0, listening(2.0)),
    ]


def test_agent_stopping_clears_the_pause() -> None:
    engine = make(can_pause=True)
    timeline = drive(
        engine,
        [agent_speaking(0.0), *speech(1.0, 2.0), agent_listening(2.5)],
        until=60.0,
    )
    assert of_type(timeline, ResumeSpeech) == []
    assert not engine.paused


# ---------------------------------------------------------------- AEC warm-up


def test_aec_warmup_blocks_audio_interruptions_after_agent_starts_speaking() -> None:
    engine = make(aec_warmup_duration=1.0)
    timeline = drive(
        engine,
        [agent_speaking(0.0), *speech(0.25, 0.875), *speech(2.0, 3.0)],
    )
    assert timeline == [
        (0.25, speaking(0.25)),  # 0.625 s of speech inside the warm-up: ignored
        (0.875, listening(0.875)),
        (2.0, speaking(2.0)),
        (2.5, InterruptSpeech("audio")),
        (3.0, listening(3.0)),
    ]


def test_aec_warmup_speech_still_going_at_its_end_interrupts_then() -> None:
    engine = make(aec_warmup_duration=1.0)
    timeline = drive(engine, [agent_speaking(0.0), *speech(0.25, 2.0)])
    assert of_type(timeline, InterruptSpeech) == [(1.0, InterruptSpeech("audio"))]


def test_aec_warmup_restarts_with_each_agent_speech() -> None:
    engine = make(aec_warmup_duration=1.0, user_away_timeout=None)
    timeline = drive(
        engine,
        [agent_speaking(0.0), agent_listening(5.0), agent_speaking(10.0), *speech(10.25, 10.875)],
    )
    assert of_type(timeline, InterruptSpeech) == []


# ---------------------------------------------------------------- preemptive generation


def _preemptive(**opts: Any) -> TurnEngine:
    return make(preemptive=PreemptiveGenerationOptions(enabled=True, **opts))


def test_preemptive_reply_starts_on_final_transcript() -> None:
    timeline = drive(_preemptive(), [*speech(1.0, 2.0), final(2.25, "hello")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.25, StartPreemptiveReply("hello")),
        (2.5, commit("hello", 1.0, 2.0, 0.5, 0.25)),
    ]


def test_no_preemptive_reply_when_disabled() -> None:
    timeline = drive(make(), [*speech(1.0, 2.0), final(2.25, "hello")])
    assert of_type(timeline, StartPreemptiveReply) == []
    assert of_type(timeline, CancelPreemptiveReply) == []


def test_no_preemptive_reply_on_interim_transcript() -> None:
    timeline = drive(_preemptive(), [*speech(1.0, 2.0), interim(1.5, "hel")], until=60.0)
    assert of_type(timeline, StartPreemptiveReply) == []


def test_changed_transcript_cancels_and_restarts_the_preemptive_reply() -> None:
    timeline = drive(_preemptive(), [*speech(1.0, 2.0), final(1.5, "hello"), final(2.25, "world")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.5, StartPreemptiveReply("hello")),
        (2.0, listening(2.0)),
        (2.25, CancelPreemptiveReply()),
        (2.25, StartPreemptiveReply("hello world")),
        (2.5, commit("hello world", 1.0, 2.0, 0.5, 0.25)),
    ]


def test_preemptive_reply_respects_max_retries() -> None:
    timeline = drive(
        _preemptive(max_retries=2),
        [*speech(1.0, 2.0), final(1.25, "one"), final(1.5, "two"), final(1.75, "three")],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (1.25, StartPreemptiveReply("one")),
        (1.5, CancelPreemptiveReply()),
        (1.5, StartPreemptiveReply("one two")),
        (2.0, listening(2.0)),
        (2.5, commit("one two three", 1.0, 2.0, 0.5, 0.0)),
    ]


def test_preemptive_retry_budget_is_per_turn() -> None:
    timeline = drive(
        _preemptive(max_retries=1),
        [*speech(1.0, 2.0), final(2.125, "a"), *speech(4.0, 5.0), final(5.125, "b")],
    )
    assert of_type(timeline, StartPreemptiveReply) == [
        (2.125, StartPreemptiveReply("a")),
        (5.125, StartPreemptiveReply("b")),
    ]


def test_no_preemptive_reply_past_max_speech_duration() -> None:
    timeline = drive(
        _preemptive(max_speech_duration=1.0), [*speech(1.0, 3.0), final(2.5, "long one")]
    )
    assert of_type(timeline, StartPreemptiveReply) == []
    assert of_type(timeline, CommitUserTurn) == [(3.5, commit("long one", 1.0, 3.0, 0.5, 0.0))]


# ---------------------------------------------------------------- user away


def test_user_away_after_timeout_while_both_listen() -> None:
    timeline = drive(make(user_away_timeout=5.0), [agent_listening(0.0)], until=60.0)
    assert timeline == [(5.0, away(5.0))]


def test_user_away_default_timeout_is_15_seconds() -> None:
    timeline = drive(make(), [agent_listening(0.0)], until=60.0)
    assert timeline == [(15.0, away(15.0))]


def test_no_away_while_agent_is_initializing() -> None:
    engine = make(user_away_timeout=5.0)
    assert drive(engine, [], until=60.0) == []
    assert engine.next_deadline() is None


def test_user_away_not_while_agent_thinks_or_speaks() -> None:
    timeline = drive(
        make(user_away_timeout=5.0),
        [agent_listening(0.0), agent_thinking(2.0), agent_speaking(3.0), agent_listening(10.0)],
        until=60.0,
    )
    assert timeline == [(15.0, away(15.0))]


def test_user_away_disabled_with_none() -> None:
    engine = make(user_away_timeout=None)
    assert drive(engine, [agent_listening(0.0)], until=600.0) == []
    assert engine.next_deadline() is None


def test_user_speech_resets_the_away_timer() -> None:
    timeline = drive(
        make(user_away_timeout=5.0),
        [agent_listening(0.0), *speech(3.0, 4.0), *speech(10.0, 11.0)],
        until=60.0,
    )
    assert timeline == [
        (3.0, speaking(3.0)),
        (4.0, listening(4.0)),
        (9.0, away(9.0)),
        (10.0, speaking(10.0)),
        (11.0, listening(11.0)),
        (16.0, away(16.0)),
    ]


def test_user_activity_brings_the_user_back() -> None:
    timeline = drive(
        make(user_away_timeout=5.0), [agent_listening(0.0), UserActivity(7.0)], until=60.0
    )
    assert timeline == [(5.0, away(5.0)), (7.0, listening(7.0)), (12.0, away(12.0))]


# ---------------------------------------------------------------- transcription timeout


def test_transcription_timeout_without_final_transcript() -> None:
    engine = make(transcription_timeout=1.0)
    timeline = drive(engine, [*speech(1.0, 2.0, silence=0.25), interim(1.5, "hm")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.25, listening(2.25)),
        (3.0, TranscriptionTimedOut(speech_duration=1.0, vad_speech_started_at=1.0, at=3.0)),
    ]


def test_no_transcription_timeout_when_a_final_arrives() -> None:
    engine = make(transcription_timeout=1.0)
    timeline = drive(engine, [*speech(1.0, 2.0, silence=0.25), final(2.5, "hi")])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.25, listening(2.25)),
        (2.5, commit("hi", 1.0, 2.0, 0.5, 0.5)),
    ]


def test_transcription_timeout_accumulates_bursts() -> None:
    engine = make(transcription_timeout=1.0)
    timeline = drive(engine, [*speech(1.0, 1.5), *speech(2.0, 2.5)])
    assert of_type(timeline, TranscriptionTimedOut) == [
        (3.5, TranscriptionTimedOut(speech_duration=1.0, vad_speech_started_at=1.0, at=3.5))
    ]


def test_no_transcription_timeout_without_stt() -> None:
    engine = make(transcription_timeout=1.0, has_stt=False)
    timeline = drive(engine, [*speech(1.0, 2.0)])
    assert timeline == [(1.0, speaking(1.0)), (2.0, listening(2.0))]


# ---------------------------------------------------------------- user turn limits


def test_max_words_reported_once() -> None:
    engine = make(user_turn_limit=UserTurnLimitOptions(max_words=3))
    timeline = drive(
        engine,
        [
            *speech(1.0, 3.0),
            final(1.75, "one two"),
            final(2.5, "three four"),
            final(2.75, "five"),
        ],
    )
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.5, UserTurnExceeded("max_words", "one two three four", 4, 1.5)),
        (3.0, listening(3.0)),
        (3.5, commit("one two three four five", 1.0, 3.0, 0.5, 0.0)),
    ]


def test_max_duration_reported_once_at_start_plus_limit() -> None:
    engine = make(user_turn_limit=UserTurnLimitOptions(max_duration=2.0))
    timeline = drive(engine, [*speech(1.0, 5.0, heard_after=0.25), final(2.0, "hello")])
    assert timeline == [
        (1.25, speaking(1.0)),
        (3.0, UserTurnExceeded("max_duration", "hello", 1, 2.0)),
        (5.0, listening(5.0)),
        (5.5, commit("hello", 1.0, 5.0, 0.5, 0.0)),
    ]


def test_max_words_resets_when_the_agent_starts_speaking() -> None:
    engine = make(user_turn_limit=UserTurnLimitOptions(max_words=2), user_away_timeout=None)
    timeline = drive(
        engine,
        [
            *speech(1.0, 2.0),
            final(1.5, "one two"),
            *speech(3.0, 4.0),  # no agent speech since: still reported
            final(3.5, "three four"),
            agent_thinking(5.0),
            agent_speaking(5.5),
            agent_listening(8.0),
            *speech(9.0, 10.0),
            final(9.5, "five six"),
        ],
    )
    assert of_type(timeline, UserTurnExceeded) == [
        (1.5, UserTurnExceeded("max_words", "one two", 2, 0.5)),
        (9.5, UserTurnExceeded("max_words", "five six", 2, 0.5)),
    ]


def test_max_duration_resets_when_the_agent_starts_speaking() -> None:
    engine = make(user_turn_limit=UserTurnLimitOptions(max_duration=1.0), user_away_timeout=None)
    timeline = drive(
        engine,
        [
            *speech(1.0, 3.0),
            final(1.5, "hello"),
            agent_thinking(4.0),
            agent_speaking(4.5),
            agent_listening(5.0),
            *speech(6.0, 8.0),
            final(6.5, "again"),
        ],
    )
    assert of_type(timeline, UserTurnExceeded) == [
        (2.0, UserTurnExceeded("max_duration", "hello", 1, 1.0)),
        (7.0, UserTurnExceeded("max_duration", "again", 1, 1.0)),
    ]


def test_max_duration_not_reported_after_the_user_stopped_short_of_it() -> None:
    engine = make(user_turn_limit=UserTurnLimitOptions(max_duration=3.0))
    timeline = drive(engine, [*speech(1.0, 2.0), final(2.25, "hi")], until=60.0)
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.5, commit("hi", 1.0, 2.0, 0.5, 0.25)),
    ]


def test_max_duration_accumulates_speech_across_pauses() -> None:
    engine = make(user_turn_limit=UserTurnLimitOptions(max_duration=2.0))
    # 1.5 s of speech, a pause, then the remaining 0.5 s of budget is used up at 3.25
    timeline = drive(engine, [*speech(1.0, 2.5), *speech(2.75, 5.0)], until=60.0)
    exceeded = [(t, a.reason) for t, a in of_type(timeline, UserTurnExceeded)]
    assert exceeded == [(3.25, "max_duration")]


# ---------------------------------------------------------------- STT endpointing


def test_stt_end_of_speech_commits_from_the_vad_speech_end() -> None:
    engine = make(detection="stt")
    timeline = drive(engine, [*speech(1.0, 2.0), final(2.25, "hello"), SttEndOfSpeech(2.375)])
    assert timeline == [
        (1.0, speaking(1.0)),
        (2.0, listening(2.0)),
        (2.5, commit("hello", 1.0, 2.0, 0.5, 0.25)),
    ]


def test_stt_mode_waits_for_the_stt_end_of_speech() -> None:
    engine = make(detection="stt")
    timeline = drive(engine, [*speech(1.0, 2.0), final(2.25, "hello")], until=60.0)
    assert of_type(timeline, CommitUserTurn) == []


def test_stt_final_transcript_after_end_of_speech_commits() -> None:
    engine = make(detection="stt")
    timeline = drive(engine, [*speech(1.0, 2.0), SttEndOfSpeech(2.125), final(2.25, "hello")])
    assert of_type(timeline, CommitUserTurn) == [(2.5, commit("hello", 1.0, 2.0, 0.5, 0.25))]


def test_stt_end_of_speech_while_vad_still_hears_speech_leaves_no_stale_deadline() -> None:
    engine = make(detection="stt")
    # drive() fails if a deadline stays due after its tick (the shell would spin on it)
    timeline = drive(
        engine,
        [SpeechStarted(1.0, 1.0), final(1.5, "hello"), SttEndOfSpeech(1.75), SpeechEnded(3.0, 3.0)],
    )
    commits = of_type(timeline, CommitUserTurn)
    assert len(commits) == 1
    t, action = commits[0]
    assert t >= 3.0
    assert action.transcript == "hello"
