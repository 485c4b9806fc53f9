"""Tests for voice/synchronizer.py: transcript pacing on the virtual clock.

Timelines: playback of the segment starts at the loop time noted in each test; "position"
is seconds of the segment's audio played.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from voxline._utils.aio import now
from voxline.audio import AudioFrame
from voxline.testing import FakeAudioOutput
from voxline.tokenize import count_syllables
from voxline.voice.synchronizer import STANDARD_SPEECH_RATE, TimedString, TranscriptSynchronizer

# ten one-syllable words
SENTENCE = "The cat sat on the mat and then it slept."
WORDS = SENTENCE.split()

# the syllable-proportional estimate the synchronizer replaced, kept as a test oracle
_WORD = re.compile(r"\S+\s*")


def heard_prefix(text: str, played: float, total: float) -> str:
    """The prefix of `text` spoken within `played` of `total` seconds of audio."""
    if total <= 0 or played <= 0:
        return ""
    if played >= total:
        return text.strip()
    words = _WORD.findall(text)
    weights = [max(1, count_syllables(w)) for w in words]
    budget = sum(weights) * (played / total)
    spoken = 0.0
    out: list[str] = []
    for word, weight in zip(words, weights):
        if spoken + weight > budget + 1e-9:
            break
        spoken += weight
        out.append(word)
    return "".join(out).strip()


class Recorder:
    """Collects (loop time, released text) pairs."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []

    def __call__(self, text: str) -> None:
        self.events.append((now(), text))

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.events]

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.events)


def full_segment(rec: Recorder, *, audio: float = 4.0, **kwargs: object) -> TranscriptSynchronizer:
    sync = TranscriptSynchronizer(on_text=rec, **kwargs)  # type: ignore[arg-type]
    sync.push_text(SENTENCE)
    sync.end_text()
    sync.push_audio_duration(audio)
    sync.end_audio()
    return sync


# ------------------------------------------------------------------ estimated pacing


@pytest.mark.virtual_time
async def test_words_follow_the_audio_when_totals_are_known() -> None:
    rec = Recorder()
    sync = full_segment(rec, audio=4.0)
    await asyncio.sleep(1.0)
    assert rec.events == []  # nothing before the audio is heard
    sync.on_playback_started()  # at 1.0
    released = [piece async for piece in sync]  # ends once the last word is out
    assert "".join(released) == SENTENCE
    assert len(rec.events) == 10
    assert rec.times[4] == pytest.approx(1.0 + 2.0)  # 5th of 10 words: half of 4 s
    assert rec.times[-1] == pytest.approx(1.0 + 4.0)  # the last word lands at the end
    assert rec.times == pytest.approx([1.0 + 0.4 * k for k in range(1, 11)])
    sync.on_playback_finished(4.0, interrupted=False)
    assert sync.synchronized_transcript() == SENTENCE


@pytest.mark.virtual_time
async def test_standard_rate_until_totals_are_known() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    sync.on_playback_started()  # at 0
    sync.push_text(SENTENCE + " ")  # text not ended, audio unknown
    await asyncio.sleep(10)
    assert rec.times == pytest.approx([k / STANDARD_SPEECH_RATE for k in range(1, 11)])
    sync.close()


@pytest.mark.virtual_time
async def test_speed_factor_two_halves_the_times() -> None:
    recs = {1.0: Recorder(), 2.0: Recorder()}
    syncs = [TranscriptSynchronizer(on_text=rec, speed_factor=f) for f, rec in recs.items()]
    for sync in syncs:
        sync.on_playback_started()
        sync.push_text(SENTENCE + " ")
    await asyncio.sleep(10)
    assert recs[2.0].times == pytest.approx([t / 2 for t in recs[1.0].times])
    assert recs[2.0].times[4] == pytest.approx(5 / (2 * STANDARD_SPEECH_RATE))
    for sync in syncs:
        sync.close()


@pytest.mark.virtual_time
async def test_rate_is_re_estimated_when_the_audio_ends() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    sync.push_text(SENTENCE)
    sync.end_text()
    sync.push_audio_duration(2.0)  # more may come: standard rate for now
    sync.on_playback_started()  # at 0
    await asyncio.sleep(0.5)
    assert rec.times == pytest.approx([1 / STANDARD_SPEECH_RATE])  # 0.26 s
    sync.end_audio()  # 10 syllables over 2 s: a word every 0.2 s
    assert rec.times == pytest.approx([1 / STANDARD_SPEECH_RATE, 0.5])  # 0.4 s was due
    await asyncio.sleep(5)
    assert rec.times[2:] == pytest.approx([0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0])
    assert rec.text == SENTENCE


@pytest.mark.virtual_time
async def test_pause_and_resume_delay_the_text() -> None:
    rec = Recorder()
    sync = full_segment(rec, audio=4.0)
    sync.on_playback_started()  # at 0
    await asyncio.sleep(1.0)
    sync.pause()  # at 1.0, position 1.0
    assert len(rec.events) == 2
    await asyncio.sleep(2.0)
    assert len(rec.events) == 2  # nothing while the audio is paused
    assert sync.playback_position() == pytest.approx(1.0)
    sync.resume()  # at 3.0
    await asyncio.sleep(10)
    assert rec.times[4] == pytest.approx(2.0 + 2.0)
    assert rec.times[-1] == pytest.approx(4.0 + 2.0)


@pytest.mark.virtual_time
async def test_pause_before_playback_starts_holds_the_clock() -> None:
    rec = Recorder()
    sync = full_segment(rec, audio=4.0)
    sync.pause()
    sync.on_playback_started()
    await asyncio.sleep(1.0)
    assert rec.events == []
    sync.resume()  # at 1.0: the segment's clock starts now
    await asyncio.sleep(10)
    assert rec.times[0] == pytest.approx(1.4)


@pytest.mark.virtual_time
async def test_interruption_stops_at_the_words_heard() -> None:
    rec = Recorder()
    sync = full_segment(rec, audio=4.0)
    sync.on_playback_started()
    await asyncio.sleep(2.2)
    sync.on_playback_finished(2.2, interrupted=True)
    heard = "The cat sat on the"
    assert sync.synchronized_transcript() == heard
    assert rec.text == heard  # the screen shows what is committed
    assert [piece async for piece in sync] == WORDS[:1] + [" " + w for w in WORDS[1:5]]
    await asyncio.sleep(10)
    assert rec.text == heard  # no more text after the cut
    # earlier positions answer what had been heard by then
    assert sync.synchronized_transcript(0.39) == ""
    assert sync.synchronized_transcript(0.4) == "The"
    assert sync.synchronized_transcript(1.0) == "The cat"


@pytest.mark.virtual_time
async def test_interruption_at_a_word_boundary_includes_that_word() -> None:
    # the output reports the cut at the same instant the word's timer is due
    rec = Recorder()
    sync = full_segment(rec, audio=4.0)
    sync.on_playback_started()
    asyncio.get_running_loop().call_at(2.0, sync.on_playback_finished, 2.0, True)
    await asyncio.sleep(3)
    assert sync.synchronized_transcript() == "The cat sat on the"
    assert rec.text == "The cat sat on the"


@pytest.mark.virtual_time
async def test_finishing_the_audio_releases_the_rest_at_once() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    sync.push_text(SENTENCE)
    sync.end_text()
    sync.push_audio_duration(1.0)  # end_audio never called: standard rate (2.6 s of text)
    sync.on_playback_started()
    await asyncio.sleep(1.0)
    sync.on_playback_finished(1.0, interrupted=False)
    assert rec.text == SENTENCE
    assert rec.times[-1] == pytest.approx(1.0)
    assert sync.synchronized_transcript() == SENTENCE


@pytest.mark.virtual_time
async def test_text_after_playback_finished_is_released_at_once() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    sync.on_playback_started()
    sync.on_playback_finished(0.0, interrupted=False)
    sync.push_text("late words ")
    assert rec.text == "late words"  # the space belongs to whatever word comes next
    sync.end_text()
    assert [piece async for piece in sync] == ["late", " words", " "]


@pytest.mark.virtual_time
async def test_words_are_released_whole_when_text_streams_mid_word() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    sync.on_playback_started()
    sync.push_text("Hel")
    sync.push_text("lo wor")  # "Hello" is complete (2 syllables), "wor..." is not
    await asyncio.sleep(1.0)
    assert rec.events == [(pytest.approx(2 / STANDARD_SPEECH_RATE), "Hello")]
    sync.push_text("ld")
    await asyncio.sleep(1.0)
    assert rec.text == "Hello"  # still maybe "worlds"
    sync.end_text()  # "world" (3 syllables in) is overdue at 2.0
    assert rec.events[1] == (pytest.approx(2.0), " world")


@pytest.mark.virtual_time
async def test_released_pieces_rebuild_the_text_exactly() -> None:
    text = "  Line one,\n\tline two —  with  spaces. \n"
    sync = TranscriptSynchronizer()
    for piece in (text[:5], text[5:17], text[17:]):
        sync.push_text(piece)
    sync.end_text()
    sync.push_audio_duration(2.0)
    sync.end_audio()
    sync.on_playback_started()
    assert "".join([piece async for piece in sync]) == text
    assert sync.released_text == text


# ------------------------------------------------------------------ aligned mode


def timed_words() -> list[TimedString]:
    return [
        TimedString("Hello ", 0.0, 0.3),
        TimedString("there, ", 0.35, 0.6),
        TimedString("how ", 0.7, 0.95),
        TimedString("are ", 1.1, 1.3),
        TimedString("you?", 1.4, 1.8),
    ]


@pytest.mark.virtual_time
async def test_aligned_words_are_released_exactly_at_their_start() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    for word in timed_words():
        sync.push_text(word)
    sync.end_text()
    assert sync.aligned
    await asyncio.sleep(0.5)
    sync.on_playback_started()  # at 0.5
    assert [piece async for piece in sync] == [str(w) for w in timed_words()]
    assert rec.times == pytest.approx([0.5, 0.85, 1.2, 1.6, 1.9], abs=1e-9)


@pytest.mark.virtual_time
async def test_interrupted_aligned_transcript_stops_at_the_last_heard_word() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    sync.on_playback_started()  # at 0
    for word in timed_words()[:3]:  # timings arrive with the audio
        sync.push_text(word)
    await asyncio.sleep(1.0)
    for word in timed_words()[3:]:
        sync.push_text(word)
    sync.on_playback_finished(1.05, interrupted=True)  # "are" starts at 1.1: not heard
    assert sync.synchronized_transcript() == "Hello there, how "
    assert rec.text == "Hello there, how "
    assert [piece async for piece in sync] == ["Hello ", "there, ", "how "]
    assert sync.synchronized_transcript(1.1) == "Hello there, how "  # start < position
    assert sync.synchronized_transcript(1.1001) == "Hello there, how are "


@pytest.mark.virtual_time
async def test_aligned_pause_shifts_the_release_times() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    for word in timed_words():
        sync.push_text(word)
    sync.end_text()
    sync.on_playback_started()
    await asyncio.sleep(0.5)
    sync.pause()
    await asyncio.sleep(1.0)
    sync.resume()  # at 1.5, position 0.5
    await asyncio.sleep(5)
    assert rec.times == pytest.approx([0.0, 0.35, 1.7, 2.1, 2.4], abs=1e-9)


def test_timed_piece_with_several_words_spreads_them_by_syllables() -> None:
    sync = TranscriptSynchronizer()
    sync.push_text(TimedString("one two three", 1.0, 2.0))
    sync.push_text(" and untimed")  # rides with the word before it
    assert sync.synchronized_transcript(1.0) == ""
    assert sync.synchronized_transcript(1.01) == "one "
    assert sync.synchronized_transcript(1.34) == "one two "
    assert sync.synchronized_transcript(1.7) == "one two three and untimed"


def test_timed_string_is_a_string_with_timing() -> None:
    word = TimedString("hi ", start_time=0.5, end_time=0.7)
    assert isinstance(word, str)
    assert word == "hi " and word.text == "hi "
    assert (word.start_time, word.end_time) == (0.5, 0.7)
    assert "start_time=0.5" in repr(word)
    assert TimedString("x").start_time is None


# ------------------------------------------------------------------ sync=False and wiring


@pytest.mark.virtual_time
async def test_sync_false_releases_text_at_once() -> None:
    rec = Recorder()
    sync = TranscriptSynchronizer(sync=False, on_text=rec)
    sync.push_text("The cat sat ")
    sync.push_text("on the mat and then it slept.")
    sync.end_text()
    assert rec.events == [(0.0, "The cat sat "), (0.0, "on the mat and then it slept.")]
    assert [piece async for piece in sync] == ["The cat sat ", "on the mat and then it slept."]
    # the timeline is still kept, so what was heard can be estimated
    sync.push_audio_duration(4.0)
    sync.end_audio()
    sync.on_playback_started()
    await asyncio.sleep(2.1)
    sync.on_playback_finished(2.1, interrupted=True)
    assert sync.synchronized_transcript() == "The cat sat on the"


@pytest.mark.virtual_time
async def test_follows_a_fake_audio_output_with_pause_and_clear() -> None:
    out = FakeAudioOutput(can_pause=True)
    rec = Recorder()
    sync = TranscriptSynchronizer(on_text=rec)
    detach = sync.attach(out)
    sync.push_text(SENTENCE)
    sync.end_text()
    for _ in range(40):  # 4 s of audio in 0.1 s frames
        frame = AudioFrame.create(16000, 1, 1600)
        await out.capture_frame(frame)
        sync.push_audio(frame)
    out.flush()
    sync.end_audio()
    await asyncio.sleep(1.5)
    out.pause()
    sync.pause()
    await asyncio.sleep(1.0)
    out.resume()
    sync.resume()
    await asyncio.sleep(0.5)  # position 2.0
    out.clear_buffer()
    detach()
    assert out.playback_finished_events[-1].playback_position == pytest.approx(2.0)
    assert sync.interrupted
    assert sync.synchronized_transcript() == "The cat sat on the"
    assert rec.text == "The cat sat on the"
    assert rec.times[-1] == pytest.approx(3.0)  # 2.0 of audio + 1.0 paused


@pytest.mark.virtual_time
async def test_close_ends_the_iterator_and_stops_releases() -> None:
    rec = Recorder()
    sync = full_segment(rec)
    sync.on_playback_started()
    await asyncio.sleep(1.0)
    await sync.aclose()
    await sync.aclose()  # idempotent
    assert len([piece async for piece in sync]) == 2
    await asyncio.sleep(10)
    assert len(rec.events) == 2
    sync.push_text("ignored")  # late pushes from a cancelled pipeline are harmless


def test_invalid_use_is_reported() -> None:
    with pytest.raises(ValueError, match="speed_factor"):
        TranscriptSynchronizer(speed_factor=0)
    sync = TranscriptSynchronizer()
    with pytest.raises(ValueError):
        sync.push_audio_duration(-1.0)
    sync.end_text()
    with pytest.raises(RuntimeError):
        sync.push_text("more")
    sync.end_audio()
    with pytest.raises(RuntimeError):
        sync.push_audio_duration(0.1)


# ------------------------------------------------------------------ replaces heard_prefix

words = st.lists(
    st.sampled_from(["hello", "world", "the", "extraordinary", "cat", "banana", "a", "rhythm"]),
    min_size=1,
    max_size=12,
)


@given(words=words, total=st.floats(0.5, 20.0), fraction=st.floats(0.0, 1.2))
def test_synchronized_transcript_agrees_with_heard_prefix(
    words: list[str], total: float, fraction: float
) -> None:
    """With text and audio complete, the estimate is heard_prefix's (so the swap is safe)."""
    text = " ".join(words)
    sync = TranscriptSynchronizer()
    sync.push_text(text)
    sync.end_text()
    sync.push_audio_duration(total)
    sync.end_audio()
    position = total * fraction
    # stay clear of exact word boundaries, where the two use different float tolerances
    boundaries = [
        len(sync.synchronized_transcript(position - 1e-4)),
        len(sync.synchronized_transcript(position + 1e-4)),
    ]
    assume(boundaries[0] == boundaries[1])
    assert sync.synchronized_transcript(position).strip() == heard_prefix(text, position, total)
