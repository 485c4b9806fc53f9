"""Transcript pacing: release the agent's text at the pace its audio plays.

The LLM produces a reply's text seconds before the TTS audio finishes playing. Shown at
once, the transcript runs ahead of the voice, and on an interruption nobody knows which words
the user actually heard. A :class:`TranscriptSynchronizer` follows one spoken segment: it is
told the text, the audio duration and the playout clock (started, paused, resumed, finished
at a position), and releases the text word by word as the matching audio is played.

Two ways to place a word on the playout timeline:

* estimated: a word ends after the syllables up to and including it have been spoken, at
  ``STANDARD_SPEECH_RATE`` syllables/s times ``speed_factor`` while the totals are unknown,
  then at (syllables of the whole text / pushed audio duration) once both the text and the
  audio have ended, which makes the last word land exactly at the end of the audio. A word is
  released when it *ends*: an estimate must not show, or commit, words not yet fully heard.
* aligned: the TTS gave timings (:class:`TimedString` with ``start_time``); a word is
  released when it *starts*, exactly, since the timing is known rather than guessed.

:meth:`TranscriptSynchronizer.synchronized_transcript` answers "what had the user heard at
playback position p" from the same timeline, so the message committed on an interruption is
the text that was on screen. Everything runs on the loop clock (``loop.time()``), so tests on
the virtual clock see exact, repeatable times.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._utils.aio import Chan, now
from ..tokenize import count_syllables
from ..tts.timed import TimedString

if TYPE_CHECKING:
    from ..audio import AudioFrame
    from .io import AudioOutput

__all__ = ["STANDARD_SPEECH_RATE", "TimedString", "TranscriptSynchronizer"]

STANDARD_SPEECH_RATE = 3.83
"""Syllables per second of ordinary speech: the pace used until the real one is known."""

_EPSILON = 1e-6
"""Float slack when comparing a word's position with the playback position."""

# A word with the whitespace before it: releasing these keeps "".join(released) == text.
_WORD = re.compile(r"\s*\S+")
# A timed piece split so that every part carries its trailing whitespace.
_TIMED_PART = re.compile(r"\s*\S+\s*|\s+")


@dataclass
class _Word:
    text: str
    syllables: int
    start: float | None = None  # aligned mode: playback position where it begins
    released_at: float | None = None  # playback position when it went out


class TranscriptSynchronizer:
    """Paces one segment's transcript against its audio playout.

    Feed it from three sides, in any order:

    * text: :meth:`push_text` (``str`` or :class:`TimedString`), then :meth:`end_text`;
    * audio: :meth:`push_audio` / :meth:`push_audio_duration`, then :meth:`end_audio`;
    * the playout clock: :meth:`on_playback_started`, :meth:`pause`, :meth:`resume`, and
      finally :meth:`on_playback_finished` (or :meth:`attach` to an ``AudioOutput``).

    Released text goes to ``on_text`` (called synchronously, in order) and to ``async for``
    over the synchronizer, which ends once all text is out, on an interruption, or on
    :meth:`aclose`. Concatenated, the released pieces are a prefix of the pushed text.

    With ``sync=False`` text is released the moment it is pushed (no audio to follow, or a
    client that wants it at once), but the timeline is still kept, so
    :meth:`synchronized_transcript` still estimates what was heard.
    """

    def __init__(
        self,
        *,
        speed_factor: float = 1.0,
        sync: bool = True,
        on_text: Callable[[str], None] | None = None,
    ) -> None:
        if speed_factor <= 0:
            raise ValueError(f"speed_factor must be > 0, got {speed_factor}")
        self._speed_factor = speed_factor
        self._sync = sync
        self._on_text = on_text
        # text
        self._text_parts: list[str] = []
        self._tail = ""  # estimated mode: text after the last complete word
        self._words: list[_Word] = []
        self._cum_syllables: list[int] = []  # through each word, inclusive
        self._aligned = False
        self._text_done = False
        # audio
        self._audio_duration = 0.0
        self._audio_ended = False
        # playout clock: position = anchor_pos + (t - anchor_time) while running
        self._started = False
        self._paused = False
        self._running = False
        self._anchor_pos = 0.0
        self._anchor_time = 0.0
        self._finished = False
        self._interrupted = False
        self._final_position = 0.0
        # release
        self._released = 0  # words released (sync mode)
        self._released_parts: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._chan: Chan[str] = Chan()
        self._closed = False

    # ------------------------------------------------------------------ state

    @property
    def text(self) -> str:
        """Everything pushed so far."""
        return "".join(self._text_parts)

    @property
    def released_text(self) -> str:
        """Everything released so far (what the transcript shows)."""
        return "".join(self._released_parts)

    @property
    def aligned(self) -> bool:
        """True once a :class:`TimedString` with a ``start_time`` was pushed."""
        return self._aligned

    @property
    def audio_duration(self) -> float:
        return self._audio_duration

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def playback_position(self, at: float | None = None) -> float:
        """Seconds of this segment played at loop time ``at`` (default: now)."""
        if self._finished:
            return self._final_position
        if not self._started:
            return 0.0
        if not self._running:
            return self._anchor_pos
        t = now() if at is None else at
        return max(0.0, self._anchor_pos + (t - self._anchor_time))

    # ------------------------------------------------------------------ text side

    def push_text(self, text: str) -> None:
        """Add transcript text; a :class:`TimedString` with a start time aligns the segment."""
        if self._closed:
            return  # late text from a cancelled pipeline
        if self._text_done:
            raise RuntimeError("push_text after end_text")
        if not text:
            return
        self._text_parts.append(text)
        if isinstance(text, TimedString) and text.start_time is not None and not self._aligned:
            self._switch_to_aligned()
        if self._aligned:
            self._add_aligned(text)
        else:
            self._tail += text
            self._take_words(final=False)
        if self._sync:
            self._pump()
        elif not self._interrupted:
            self._deliver(text)

    def end_text(self) -> None:
        """No more text for this segment: the last word is complete, the total is known."""
        if self._text_done:
            return
        self._text_done = True
        self._take_words(final=True)
        if self._sync:
            self._pump()
        self._maybe_end()

    def _take_words(self, *, final: bool) -> None:
        """Move complete words from the tail to the word list (a word ends at whitespace)."""
        tail = self._tail
        taken = 0
        for m in _WORD.finditer(tail):
            if m.end() == len(tail) and not final:
                break  # the word may continue in the next push
            self._add_word(_Word(m.group(), count_syllables(m.group())))
            taken = m.end()
        rest = tail[taken:]
        if final and rest:
            self._add_word(_Word(rest, 0))  # trailing whitespace rides with the last word
            rest = ""
        self._tail = rest

    def _add_word(self, word: _Word) -> None:
        total = self._cum_syllables[-1] if self._cum_syllables else 0
        self._words.append(word)
        self._cum_syllables.append(total + word.syllables)

    def _switch_to_aligned(self) -> None:
        self._take_words(final=True)
        self._aligned = True
        for word in self._words:
            word.start = 0.0  # untimed text before the first timing goes out at the start

    def _add_aligned(self, text: str) -> None:
        parts = _TIMED_PART.findall(text)
        start = text.start_time if isinstance(text, TimedString) else None
        end = text.end_time if isinstance(text, TimedString) else None
        syllables = [count_syllables(p) for p in parts]
        total = sum(syllables)
        before = 0
        for part, count in zip(parts, syllables):
            if start is None:
                # untimed text in an aligned segment goes out with the word before it
                at = self._words[-1].start if self._words else 0.0
            elif end is not None and end > start and total > 0:
                at = start + (end - start) * before / total
            else:
                at = start
            self._add_word(_Word(part, count, start=at))
            before += count

    # ------------------------------------------------------------------ audio side

    def push_audio(self, frame: AudioFrame) -> None:
        """Count a frame of this segment's audio (only its duration matters)."""
        self.push_audio_duration(frame.duration)

    def push_audio_duration(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"audio duration must be >= 0, got {seconds}")
        if self._audio_ended:
            raise RuntimeError("push_audio after end_audio")
        self._audio_duration += seconds

    def end_audio(self) -> None:
        """All audio is pushed: with the text ended too, the real speaking rate is known."""
        if self._audio_ended:
            return
        self._audio_ended = True
        if self._sync:
            self._pump()

    # ------------------------------------------------------------------ playout clock

    def on_playback_started(self, at: float | None = None) -> None:
        """The first audio of the segment is heard at loop time ``at`` (default: now)."""
        if self._started or self._finished:
            return
        self._started = True
        self._anchor_pos = 0.0
        self._anchor_time = now() if at is None else at
        self._running = not self._paused
        self._pump()

    def pause(self, at: float | None = None) -> None:
        """The output paused (e.g. a possible interruption): text stops with the audio."""
        if self._paused or self._finished:
            return
        if self._running:
            t = now() if at is None else at
            self._anchor_pos = self.playback_position(t)
            self._anchor_time = t
            self._running = False
        self._paused = True
        self._pump()

    def resume(self, at: float | None = None) -> None:
        if not self._paused or self._finished:
            return
        self._paused = False
        if self._started:
            self._anchor_time = now() if at is None else at
            self._running = True
        self._pump()

    def on_playback_finished(self, position: float, interrupted: bool) -> None:
        """Playout ended at ``position`` seconds: release the rest, or stop where it was cut.

        On an interruption the words heard by ``position`` are released first (their timers
        may be due at this very instant), so the transcript on screen matches
        :meth:`synchronized_transcript`.
        """
        if self._finished:
            return
        self._cancel_timer()
        heard = self._heard_count(max(0.0, position)) if interrupted else 0
        self._finished = True
        self._interrupted = interrupted
        self._running = False
        self._final_position = max(0.0, position)
        if interrupted:
            if self._sync:
                while self._released < heard:
                    self._release_next(self._final_position)
            self._end()
            return
        self._audio_ended = True
        self._pump()

    def attach(self, audio_output: AudioOutput) -> Callable[[], None]:
        """Follow an output's ``playback_started``/``playback_finished`` events.

        Returns the function that detaches again; detach when the segment is over, since the
        output reports every segment. Pause and resume are not events of ``AudioOutput``, so
        whoever pauses the output calls :meth:`pause`/:meth:`resume` too.
        """

        def started(ev: Any) -> None:
            self.on_playback_started(ev.created_at)

        def finished(ev: Any) -> None:
            self.on_playback_finished(ev.playback_position, ev.interrupted)

        audio_output.on("playback_started", started)
        audio_output.on("playback_finished", finished)

        def detach() -> None:
            audio_output.off("playback_started", started)
            audio_output.off("playback_finished", finished)

        return detach

    # ------------------------------------------------------------------ what was heard

    def synchronized_transcript(self, position: float | None = None) -> str:
        """The text the user had heard at playback ``position`` (default: now, or where
        playout finished): the committed message of an interrupted reply.

        Estimated mode: the words released by then, or estimated to have ended by then.
        Aligned mode: the words whose start time is before ``position``. A segment that
        played to its end was heard entirely. The result is a prefix of the pushed text,
        whitespace included, so segments concatenate; strip the final message.
        """
        if position is None:
            position = self.playback_position()
        if self._finished and not self._interrupted and position >= self._final_position:
            return self.text
        return "".join(w.text for w in self._words[: self._heard_count(position)])

    def _heard_count(self, position: float) -> int:
        count = 0
        for k, word in enumerate(self._words):
            if self._aligned:
                assert word.start is not None
                heard = word.start < position
            else:
                released = word.released_at is not None and word.released_at <= position
                heard = released or self._planned(k) <= position + _EPSILON
            if not heard:
                break
            count += 1
        return count

    # ------------------------------------------------------------------ release

    def _rate(self) -> float:
        """Syllables per second: measured once text and audio are both complete."""
        total = self._cum_syllables[-1] if self._cum_syllables else 0
        if self._text_done and self._audio_ended and self._audio_duration > 0 and total > 0:
            return total / self._audio_duration
        return STANDARD_SPEECH_RATE * self._speed_factor

    def _planned(self, k: int) -> float:
        """Playback position at which word ``k`` is released."""
        word = self._words[k]
        if self._aligned:
            assert word.start is not None
            return word.start
        return self._cum_syllables[k] / self._rate()

    def _pump(self, due: float = float("-inf")) -> None:
        """Release every word that is due, then arm a timer for the next one.

        ``due`` is the position a timer was armed for: the word it was armed for goes out
        even if a coarse loop clock fires the timer a little early.
        """
        self._cancel_timer()
        if self._closed or not self._sync or self._interrupted:
            return
        if self._finished:
            while self._released < len(self._words):
                self._release_next(self._final_position)  # played to the end: all heard
            self._maybe_end()
            return
        if not self._started:
            return
        position = self.playback_position()
        threshold = max(position, due) + _EPSILON
        while self._released < len(self._words) and self._planned(self._released) <= threshold:
            self._release_next(position)
        self._maybe_end()
        if self._running and self._released < len(self._words) and not self._closed:
            target = self._planned(self._released)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # driven by hand without a loop: releases happen on the next call
            at = self._anchor_time + (target - self._anchor_pos)
            self._timer = loop.call_at(at, self._on_timer, target)

    def _on_timer(self, target: float) -> None:
        self._timer = None
        self._pump(due=target)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _release_next(self, position: float) -> None:
        word = self._words[self._released]
        word.released_at = position
        self._released += 1
        self._deliver(word.text)

    def _deliver(self, text: str) -> None:
        self._released_parts.append(text)
        if not self._chan.closed:
            self._chan.send_nowait(text)
        if self._on_text is not None:
            self._on_text(text)

    def _maybe_end(self) -> None:
        if not self._text_done or self._tail:
            return
        if not self._sync or self._released == len(self._words):
            self._end()

    def _end(self) -> None:
        self._cancel_timer()
        self._chan.close()

    # ------------------------------------------------------------------ consumers

    def __aiter__(self) -> AsyncIterator[str]:
        """Released text pieces, in order, until the segment's transcript is complete."""
        return self._chan.__aiter__()

    def close(self) -> None:
        """Stop releasing (idempotent); the iterator ends after what is already out."""
        self._closed = True
        self._end()

    async def aclose(self) -> None:
        self.close()
