"""stt.StreamAdapter's look-ahead passes: preflight transcripts from an early recognition
that is done before the VAD decides, and interim transcripts while the user speaks.

A scripted VAD replays one speech segment on the loop clock (a window every 50 ms, the
silence count growing in pauses) and a batch STT takes a fixed time per recognition, so
every event below happens at a known virtual time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from stt.scripted_vad import ScriptedVAD
from voxline._types import APIConnectOptions
from voxline._utils.aio import Chan
from voxline.audio import AudioFrame
from voxline.stt import (
    STT,
    SpeechData,
    SpeechEvent,
    SpeechEventType,
    StreamAdapter,
    STTCapabilities,
)
from voxline.vad import VAD, VADCapabilities, VADEvent, VADEventType, VADStream

WINDOW = 0.05  # seconds between the scripted VAD's inference results
HANGOVER = 0.5  # silence after which the scripted VAD declares the end of speech

PREFLIGHT = SpeechEventType.PREFLIGHT_TRANSCRIPT
INTERIM = SpeechEventType.INTERIM_TRANSCRIPT
FINAL = SpeechEventType.FINAL_TRANSCRIPT
START = SpeechEventType.START_OF_SPEECH
END = SpeechEventType.END_OF_SPEECH

Events = list[tuple[float, SpeechEventType, str]]


# ------------------------------------------------------------------ fakes


def _window() -> AudioFrame:
    return AudioFrame.create(16000, 1, 800)


def segment(speech: Sequence[tuple[float, float]]) -> list[tuple[float, VADEvent]]:
    """One VAD segment covering the (start, end) stretches of `speech`: an inference result
    every WINDOW with the speech heard so far and the silence since the user last spoke
    (each window carries its audio), then END_OF_SPEECH after HANGOVER of silence."""
    begin, last = speech[0][0], speech[-1][1]
    start = VADEvent(VADEventType.START_OF_SPEECH, 0, begin, 0.0, 0.0, [_window()], speaking=True)
    script: list[tuple[float, VADEvent]] = [(begin, start)]
    heard = quiet = 0
    k = 1
    while (t := round(begin + k * WINDOW, 6)) < last + HANGOVER:
        if any(a <= t < b for a, b in speech):
            heard, quiet = heard + 1, 0
        else:
            quiet += 1
        ev = VADEvent(
            VADEventType.INFERENCE_DONE,
            0,
            t,
            round(heard * WINDOW, 6),
            round(quiet * WINDOW, 6),
            [_window()],
            speaking=True,
        )
        script.append((t, ev))
        k += 1
    end_at = round(last + HANGOVER, 6)
    end = VADEvent(
        VADEventType.END_OF_SPEECH, 0, end_at, heard * WINDOW, HANGOVER, [_window()] * (k + 1)
    )
    script.append((end_at, end))
    return script


class TimedSTT(STT):
    """Batch STT taking `delay` seconds per recognition; the n-th one started says
    "pass n". Records when each pass started and ended (loop clock, relative to `origin`),
    how many windows it heard and how many other passes were running when it started."""

    def __init__(self, delay: float) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=False, interim_results=False))
        self.delay = delay
        self.origin = 0.0
        self.started: list[float] = []
        self.finished: list[float] = []
        self.heard: list[int] = []
        self.busy_at_start: list[int] = []
        self._running = 0

    def _now(self) -> float:
        return round(asyncio.get_running_loop().time() - self.origin, 3)

    async def _recognize_impl(
        self, buffer: Sequence[AudioFrame], *, language: str | None, conn_options: APIConnectOptions
    ) -> SpeechEvent:
        n = len(self.started) + 1
        self.started.append(self._now())
        self.heard.append(len(buffer))
        self.busy_at_start.append(self._running)
        self._running += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            self._running -= 1
        self.finished.append(self._now())
        return SpeechEvent(FINAL, [SpeechData(language="en", text=f"pass {n}")])


async def run_adapter(
    stt: TimedSTT,
    script: list[tuple[float, VADEvent]],
    *,
    early: float | None = None,
    interval: float | None = None,
) -> Events:
    """Stream one scripted segment through the adapter; the events with their times."""
    stream = StreamAdapter(
        stt=stt,
        vad=ScriptedVAD(script, window=WINDOW),
        early_recognition=early,
        interim_interval=interval,
    ).stream()
    loop = asyncio.get_running_loop()
    stt.origin = loop.time()
    stream.push_frame(_window())
    events: Events = []

    async def read() -> None:
        async for ev in stream:
            events.append((round(loop.time() - stt.origin, 3), ev.type, ev.text))
            if ev.type == END:
                return

    await asyncio.wait_for(read(), 30)
    await stream.aclose()
    return events


def kinds(events: Events) -> list[SpeechEventType]:
    return [kind for _, kind, _ in events]


# ------------------------------------------------------------------ preflight


@pytest.mark.virtual_time
async def test_an_early_result_ready_before_the_vad_decides_is_sent_as_a_preflight() -> None:
    """Speech 0.1-1.01 s; 0.2 s of silence is counted at 1.2 s, the guess takes 0.1 s, the
    VAD declares the end at 1.51 s. The preflight at 1.3 s is what lets the session start
    its reply 0.2 s before the VAD is sure; the final confirms it with the same words and
    costs no second recognition."""
    stt = TimedSTT(delay=0.1)
    events = await run_adapter(stt, segment([(0.1, 1.01)]), early=0.2)
    assert events == [
        (0.1, START, ""),
        (1.3, PREFLIGHT, "pass 1"),
        (1.51, FINAL, "pass 1"),
        (1.51, END, ""),
    ]
    assert stt.started == [1.2]


@pytest.mark.virtual_time
async def test_a_guess_still_running_when_the_vad_decides_is_only_the_final() -> None:
    """The same utterance with a 0.4 s recognition: the guess ends at 1.6 s, after the
    VAD's end (1.51 s), so it is the final transcript and nothing is sent ahead of it (a
    preflight right before its final would only make the session start the reply twice)."""
    stt = TimedSTT(delay=0.4)
    events = await run_adapter(stt, segment([(0.1, 1.01)]), early=0.2)
    assert events == [(0.1, START, ""), (1.6, FINAL, "pass 1"), (1.6, END, "")]
    assert stt.started == [1.2] and len(stt.finished) == 1


@pytest.mark.virtual_time
async def test_without_early_recognition_there_is_no_preflight() -> None:
    stt = TimedSTT(delay=0.1)
    events = await run_adapter(stt, segment([(0.1, 1.01)]))
    assert kinds(events) == [START, FINAL, END]
    assert stt.started == [1.51]


@pytest.mark.virtual_time
async def test_speech_resuming_drops_a_running_guess_and_its_preflight_never_comes() -> None:
    """A 0.25 s pause (0.61-0.86 s) starts a guess at 0.8 s that would be done at 0.95 s;
    the user speaks again at 0.9 s, so it is dropped: its words ("pass 1") are a stale
    reading of half the sentence. The pause after the real end gives the preflight."""
    stt = TimedSTT(delay=0.15)
    events = await run_adapter(stt, segment([(0.1, 0.61), (0.86, 1.51)]), early=0.2)
    assert events == [
        (0.1, START, ""),
        (1.85, PREFLIGHT, "pass 2"),
        (2.01, FINAL, "pass 2"),
        (2.01, END, ""),
    ]
    assert stt.started == [0.8, 1.7]
    assert stt.finished == [1.85]  # the first pass was cancelled, not left running
    assert stt.heard[1] > stt.heard[0]  # the final covers the words after the pause


@pytest.mark.virtual_time
async def test_a_guess_done_within_a_pause_is_a_preflight_and_the_final_is_read_again() -> None:
    """With a 0.05 s recognition, the pause's guess is done before the user goes on, so its
    preflight is out (the session's turn engine retracts it on SpeechResumed); the final
    must still come from a pass over the whole utterance, not from that guess."""
    stt = TimedSTT(delay=0.05)
    events = await run_adapter(stt, segment([(0.1, 0.61), (0.86, 1.51)]), early=0.2)
    assert events == [
        (0.1, START, ""),
        (0.85, PREFLIGHT, "pass 1"),
        (1.75, PREFLIGHT, "pass 2"),
        (2.01, FINAL, "pass 2"),
        (2.01, END, ""),
    ]


# ------------------------------------------------------------------ interim passes


@pytest.mark.virtual_time
async def test_interim_passes_come_about_once_per_second_of_speech() -> None:
    """3.5 s of speech (0.1-3.6 s) with interim_interval=1.0 and a 0.3 s recognition: a
    pass starts each time another second of speech was heard (at 1.1, 2.1 and 3.1 s) over
    the utterance so far, and its words arrive while the user still speaks. The final is a
    pass of its own at the VAD's end."""
    stt = TimedSTT(delay=0.3)
    events = await run_adapter(stt, segment([(0.1, 3.6)]), interval=1.0)
    assert events == [
        (0.1, START, ""),
        (1.4, INTERIM, "pass 1"),
        (2.4, INTERIM, "pass 2"),
        (3.4, INTERIM, "pass 3"),
        (4.4, FINAL, "pass 4"),
        (4.4, END, ""),
    ]
    assert stt.started == [1.1, 2.1, 3.1, 4.1]
    assert stt.heard[0] < stt.heard[1] < stt.heard[2]  # each pass reads all that was said


@pytest.mark.virtual_time
async def test_an_interim_pass_never_starts_while_another_recognition_runs() -> None:
    """A 1.22 s recognition is slower than the 1 s interval (speech 0.1-4.0 s): the pass
    due at 2.1 s waits for the running one (done at 2.32 s) instead of piling up on the
    cores, and the one still running at the VAD's end (4.5 s) is dropped for the final."""
    stt = TimedSTT(delay=1.22)
    events = await run_adapter(stt, segment([(0.1, 4.0)]), interval=1.0)
    assert events == [
        (0.1, START, ""),
        (2.32, INTERIM, "pass 1"),
        (3.57, INTERIM, "pass 2"),
        (5.72, FINAL, "pass 4"),
        (5.72, END, ""),
    ]
    # while the user spoke, each pass started only once the previous one was done
    assert stt.started == [1.1, 2.35, 3.6, 4.5]
    assert stt.busy_at_start[:3] == [0, 0, 0]
    assert stt.finished == [2.32, 3.57, 5.72]  # pass 3 was cancelled at the end


@pytest.mark.virtual_time
async def test_no_interim_pass_without_an_interval() -> None:
    stt = TimedSTT(delay=0.3)
    events = await run_adapter(stt, segment([(0.1, 3.6)]), interval=None)
    assert kinds(events) == [START, FINAL, END]
    assert stt.started == [4.1]  # one recognition for the whole utterance


@pytest.mark.virtual_time
async def test_a_pause_hands_over_from_the_interim_pass_to_the_guess() -> None:
    """Both options: an interim pass running when the pause's guess starts is dropped (the
    guess reads the same words and more, and sooner), so only the guess's words come."""
    stt = TimedSTT(delay=0.4)
    # the pass starting at 1.1 s would end at 1.5 s; the guess starts at 1.3 s
    events = await run_adapter(stt, segment([(0.1, 1.11)]), early=0.2, interval=1.0)
    assert stt.started == [1.1, 1.3]
    assert events == [
        (0.1, START, ""),
        (1.7, FINAL, "pass 2"),
        (1.7, END, ""),
    ]


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_interim_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="interim_interval"):
        StreamAdapter(stt=TimedSTT(0.1), vad=ScriptedVAD([]), interim_interval=interval)


def test_interim_results_are_advertised_only_with_an_interval() -> None:
    """The session reads `interim_results` to know whether partial words will come."""
    with_interval = StreamAdapter(stt=TimedSTT(0.1), vad=ScriptedVAD([]), interim_interval=1.0)
    without = StreamAdapter(stt=TimedSTT(0.1), vad=ScriptedVAD([]))
    assert with_interval.capabilities.interim_results is True
    assert without.capabilities.interim_results is False
    assert with_interval.capabilities.streaming and without.capabilities.streaming


# ------------------------------------------------------------------ ordering race


class HandVAD(VAD):
    """A VAD whose events the test emits by hand, at chosen points of the loop."""

    def __init__(self) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=WINDOW))
        self.streams: list[_HandStream] = []

    def stream(self) -> VADStream:
        stream = _HandStream(self)
        self.streams.append(stream)
        return stream


class _HandStream(VADStream):
    async def _run(self, frames: Chan[AudioFrame]) -> None:
        async for _ in frames:
            pass

    def emit(self, ev: VADEvent) -> None:
        self._emit(ev)


class GatedSTT(STT):
    """Each recognition waits for the test to open its gate, as a model running in a worker
    thread hands its result back to the loop."""

    def __init__(self) -> None:
        super().__init__(capabilities=STTCapabilities(streaming=False, interim_results=False))
        self.gates: list[asyncio.Future[None]] = []

    async def _recognize_impl(
        self, buffer: Sequence[AudioFrame], *, language: str | None, conn_options: APIConnectOptions
    ) -> SpeechEvent:
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        await gate
        return SpeechEvent(FINAL, [SpeechData(language="en", text="hello")])


async def _pause_then(hops: int, then: VADEvent) -> list[str]:
    """A pause starts the guess; its result is handed back, and `hops` loop iterations
    later the VAD sends `then`. The adapter's events in order, with "handled" marking the
    point where the adapter has read `then`."""
    vad, stt = HandVAD(), GatedSTT()
    stream = StreamAdapter(stt=stt, vad=vad, early_recognition=0.2).stream()
    stream.push_frame(_window())
    seen: list[str] = []
    # recorded as they are sent, not when a reader task gets to them: the order against
    # the "handled" mark is the adapter's own
    send = stream._emit

    def record(ev: SpeechEvent) -> None:
        seen.append(ev.type.value)
        send(ev)

    stream._emit = record  # type: ignore[method-assign,assignment]

    async def read() -> None:
        async for _ in stream:
            pass

    reader = asyncio.get_running_loop().create_task(read())
    await asyncio.sleep(0.01)
    (vad_stream,) = vad.streams
    start = VADEvent(VADEventType.START_OF_SPEECH, 0, 0.0, 0.1, 0.0, [_window()], speaking=True)
    pause = VADEvent(VADEventType.INFERENCE_DONE, 0, 0.0, 0.5, 0.25, [_window()], speaking=True)
    vad_stream.emit(start)
    vad_stream.emit(pause)
    await asyncio.sleep(0.01)
    if len(stt.gates) != 1:
        raise RuntimeError("the pause did not start a guess")
    stt.gates[0].set_result(None)
    for _ in range(hops):
        await asyncio.sleep(0)
    vad_stream.emit(then)
    await asyncio.sleep(0)  # the adapter's task runs before this one resumes
    seen.append("handled")
    await asyncio.sleep(0.1)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    await stream.aclose()
    return seen


@pytest.mark.virtual_time
async def test_a_preflight_never_follows_the_final_of_its_utterance() -> None:
    """Whatever the interleaving of the guess's result (handed back from a worker thread)
    and the VAD's end, the preflight is sent before the final or not at all: one sent
    after it reaches the turn engine as more words ("hello" + "hello") and restarts the
    preemptive reply on them."""
    end = VADEvent(VADEventType.END_OF_SPEECH, 0, 0.0, 0.5, 0.5, [_window()])
    orders = [await _pause_then(hops, end) for hops in range(10)]
    for seen in orders:
        assert seen.count("final_transcript") == 1, seen
        if "preflight_transcript" in seen:
            assert seen.index("preflight_transcript") < seen.index("final_transcript"), orders
    # the sweep covers both sides: a guess done early enough is a preflight
    assert any("preflight_transcript" in seen for seen in orders)


@pytest.mark.virtual_time
async def test_a_dropped_guess_never_sends_its_preflight() -> None:
    """Once the adapter has seen the user speak again, the pause's reading is stale: a
    preflight after that point starts a reply to half a sentence, which nothing retracts
    until the final (the turn engine's SpeechResumed came before it)."""
    resume = VADEvent(VADEventType.INFERENCE_DONE, 0, 0.0, 0.6, 0.0, [_window()], speaking=True)
    orders = [await _pause_then(hops, resume) for hops in range(10)]
    for seen in orders:
        if "preflight_transcript" in seen:
            assert seen.index("preflight_transcript") < seen.index("handled"), orders
    assert any("preflight_transcript" in seen for seen in orders)
