"""The turn engine and preflight transcripts: an STT's early reading of a pause
(`Transcript(final=False, preflight=True)`) starts the preemptive reply while the VAD is
still waiting out its silence; the final confirms it or replaces it, and speech resuming
inside the segment (`SpeechResumed`) retracts it.

No event loop: inputs are fed in time order and deadlines ticked as the async shell would
(same driver as test_turns.py). Times are binary fractions so they compare exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from voxline.voice.turn_options import PreemptiveGenerationOptions
from voxline.voice.turns import (
    CancelPreemptiveReply,
    CommitUserTurn,
    SetUserState,
    SpeechEnded,
    SpeechResumed,
    SpeechStarted,
    StartPreemptiveReply,
    Tick,
    Transcript,
    TurnAction,
    TurnConfig,
    TurnEngine,
    TurnInput,
)

Timeline = list[tuple[float, TurnAction]]
A = TypeVar("A", bound=TurnAction)


def drive(engine: TurnEngine, events: Iterable[TurnInput]) -> Timeline:
    """Feed `events` in time order, ticking every deadline due before each; then tick the
    remaining deadlines. The `(time, action)` pairs in the order the engine produced them."""
    timeline: Timeline = []

    def tick_until(limit: float) -> None:
        for _ in range(1000):
            deadline = engine.next_deadline()
            if deadline is None or deadline >= limit:
                return
            timeline.extend((deadline, a) for a in engine.feed(Tick(deadline)))
        raise AssertionError("the engine keeps asking for ticks")

    for event in sorted(events, key=lambda e: e.t):
        tick_until(event.t)
        timeline.extend((event.t, a) for a in engine.feed(event))
    tick_until(60.0)
    return timeline


def preemptive(**opts: Any) -> TurnEngine:
    # no away timer: it would only add noise to the timelines
    return TurnEngine(
        TurnConfig(
            preemptive=PreemptiveGenerationOptions(enabled=True, **opts), user_away_timeout=None
        )
    )


def preemptive_actions(timeline: Timeline) -> Timeline:
    return [
        (t, a) for t, a in timeline if isinstance(a, (StartPreemptiveReply, CancelPreemptiveReply))
    ]


def of_type(timeline: Timeline, kind: type[A]) -> list[tuple[float, A]]:
    return [(t, a) for t, a in timeline if isinstance(a, kind)]


def preflight(t: float, text: str) -> Transcript:
    return Transcript(t, text, final=False, preflight=True)


def interim(t: float, text: str) -> Transcript:
    return Transcript(t, text, final=False)


def final(t: float, text: str) -> Transcript:
    return Transcript(t, text, final=True)


def segment(start: float, stop: float, *, hangover: float = 0.5) -> list[TurnInput]:
    """The VAD's segment for speech from `start` to `stop`: it declares the end only after
    `hangover` of silence, which is the time a preflight can win."""
    return [SpeechStarted(start, start), SpeechEnded(stop + hangover, stop)]


# ------------------------------------------------------------------ starting on a preflight


def test_a_preflight_inside_the_vad_segment_starts_the_preemptive_reply() -> None:
    """Speech 1.0-1.5 s, the VAD decides at 2.0 s; the STT's early reading comes at
    1.75 s. The reply starts then, 0.25 s before the final would have started it, and
    the turn itself is still committed only from the final."""
    timeline = drive(preemptive(), [*segment(1.0, 1.5), preflight(1.75, "hello")])
    assert timeline == [
        (1.0, SetUserState("speaking", 1.0)),
        (1.75, StartPreemptiveReply("hello")),
        (2.0, SetUserState("listening", 2.0)),
    ]


def test_a_plain_interim_does_not_start_a_reply() -> None:
    """An interim is a reading of speech still going on: likely to change, not worth a
    reply."""
    timeline = drive(preemptive(), [*segment(1.0, 1.5), interim(1.75, "hello")])
    assert preemptive_actions(timeline) == []


def test_an_empty_preflight_starts_nothing() -> None:
    timeline = drive(preemptive(), [*segment(1.0, 1.5), preflight(1.75, "  ")])
    assert preemptive_actions(timeline) == []


def test_a_preflight_starts_nothing_when_preemptive_generation_is_off() -> None:
    engine = TurnEngine(TurnConfig(user_away_timeout=None))
    timeline = drive(engine, [*segment(1.0, 1.5), preflight(1.75, "hello"), final(2.0, "hello")])
    assert preemptive_actions(timeline) == []
    assert [a.transcript for _, a in of_type(timeline, CommitUserTurn)] == ["hello"]


def test_a_preflight_adds_to_the_turns_earlier_finals() -> None:
    """A turn of two segments: the reply is to everything the user said, not only to the
    pause that was read early."""
    timeline = drive(
        preemptive(),
        [
            *segment(1.0, 1.5, hangover=0.25),
            final(1.75, "I would like"),
            *segment(2.0, 2.5),
            preflight(2.75, "a pizza"),
        ],
    )
    assert preemptive_actions(timeline) == [
        (1.75, StartPreemptiveReply("I would like")),
        (2.75, CancelPreemptiveReply()),
        (2.75, StartPreemptiveReply("I would like a pizza")),
    ]


# ------------------------------------------------------------------ the final after it


def test_the_same_final_keeps_the_reply_that_the_preflight_started() -> None:
    """The final says what the preflight said: restarting would throw away the head start
    the preflight bought."""
    timeline = drive(
        preemptive(), [*segment(1.0, 1.5), preflight(1.75, "hello"), final(2.0, "hello")]
    )
    assert preemptive_actions(timeline) == [(1.75, StartPreemptiveReply("hello"))]
    commits = of_type(timeline, CommitUserTurn)
    assert [(t, a.transcript) for t, a in commits] == [(2.0, "hello")]


def test_a_different_final_replaces_the_preflights_reply() -> None:
    """The final heard more (or heard it differently): the reply must answer the final."""
    timeline = drive(
        preemptive(),
        [*segment(1.0, 1.5), preflight(1.75, "hello"), final(2.0, "hello there")],
    )
    assert preemptive_actions(timeline) == [
        (1.75, StartPreemptiveReply("hello")),
        (2.0, CancelPreemptiveReply()),
        (2.0, StartPreemptiveReply("hello there")),
    ]


# ------------------------------------------------------------------ speech resuming


def test_speech_resuming_retracts_a_reply_started_on_a_preflight() -> None:
    """The user only paused: the reply to half a sentence is stale and its generation
    would take the cores from the recognition of what they say now."""
    timeline = drive(
        preemptive(),
        [
            SpeechStarted(1.0, 1.0),
            preflight(1.75, "I think"),
            SpeechResumed(1.875),
            SpeechEnded(3.0, 2.5),
            final(3.0, "I think so"),
        ],
    )
    assert preemptive_actions(timeline) == [
        (1.75, StartPreemptiveReply("I think")),
        (1.875, CancelPreemptiveReply()),
        (3.0, StartPreemptiveReply("I think so")),  # nothing left to cancel
    ]


def test_speech_resuming_leaves_a_reply_started_on_a_final_alone() -> None:
    """A final is the STT's last word on those words (a streaming STT may send it inside
    the VAD's segment); more speech adds to it, and the next final restarts the reply."""
    timeline = drive(
        preemptive(),
        [SpeechStarted(1.0, 1.0), final(1.75, "hello"), SpeechResumed(1.875)],
    )
    assert preemptive_actions(timeline) == [(1.75, StartPreemptiveReply("hello"))]


def test_speech_resuming_leaves_a_preflight_alone_once_the_final_confirmed_it() -> None:
    timeline = drive(
        preemptive(),
        [
            SpeechStarted(1.0, 1.0),
            preflight(1.75, "hello"),
            final(1.8125, "hello"),
            SpeechResumed(1.875),
        ],
    )
    assert preemptive_actions(timeline) == [(1.75, StartPreemptiveReply("hello"))]


def test_speech_resuming_with_no_reply_running_does_nothing() -> None:
    timeline = drive(preemptive(), [SpeechStarted(1.0, 1.0), SpeechResumed(1.875)])
    assert preemptive_actions(timeline) == []


def test_the_same_words_read_again_after_a_retraction_start_a_new_reply() -> None:
    """Retracted means forgotten: if the user's next pause reads the same (they only made
    a noise), the reply starts again rather than being taken as already running."""
    timeline = drive(
        preemptive(),
        [
            SpeechStarted(1.0, 1.0),
            preflight(1.75, "hello"),
            SpeechResumed(1.875),
            preflight(2.5, "hello"),
        ],
    )
    assert preemptive_actions(timeline) == [
        (1.75, StartPreemptiveReply("hello")),
        (1.875, CancelPreemptiveReply()),
        (2.5, StartPreemptiveReply("hello")),
    ]


def test_pauses_mid_sentence_do_not_use_up_the_retry_budget() -> None:
    """Three pauses, each with a preflight that the user's going on cancels, then the real
    end: its final still gets an early reply (max_retries counts the turn's finals)."""
    engine = TurnEngine(
        TurnConfig(preemptive=PreemptiveGenerationOptions(enabled=True, max_retries=3)), t=0.0
    )
    engine.feed(SpeechStarted(1.0, started_at=1.0))
    words = ["a", "b", "c"]
    t = 1.0
    for i in range(3):
        t += 1.0
        started = engine.feed(Transcript(t, " ".join(words[: i + 1]), final=False, preflight=True))
        assert StartPreemptiveReply(" ".join(words[: i + 1])) in started
        assert CancelPreemptiveReply() in engine.feed(SpeechResumed(t + 0.1))
    engine.feed(SpeechEnded(t + 1.0, ended_at=t + 0.5))
    out = engine.feed(Transcript(t + 1.1, "a b c d", final=True))
    assert StartPreemptiveReply("a b c d") in out
