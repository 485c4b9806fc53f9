"""WavAudioOutput: a real-time playout clock that records what was heard, on a timeline."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from console.helpers import (
    AGENT_HZ,
    ToneTTS,
    dominant_hz,
    loud_spans,
    tone,
    write_speech_wav,
)
from voxline import Agent
from voxline.audio import AudioFrame, frames_from_array, read_wav
from voxline.console import WavAudioInput, WavAudioOutput
from voxline.testing import FakeActions, FakeAudioInput, FakeTextOutput, create_session

RATE = 24000


def _frames(seconds: float, *, rate: int = RATE, frame_ms: float = 20) -> list[AudioFrame]:
    return frames_from_array(
        tone(seconds, rate=rate, hz=AGENT_HZ), rate, round(rate * frame_ms / 1000)
    )


async def _push(out: WavAudioOutput, seconds: float, **kwargs: Any) -> None:
    for frame in _frames(seconds, **kwargs):
        await out.capture_frame(frame)


def _spans(path: Path) -> list[tuple[float, float]]:
    return [(round(a, 2), round(b, 2)) for a, b in loud_spans(path)]


@pytest.mark.virtual_time
async def test_a_segment_plays_in_real_time_and_lands_at_its_time(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    out = WavAudioOutput(tmp_path / "out.wav")
    out.start_timeline()
    t0 = loop.time()
    started: list[float] = []
    out.on("playback_started", lambda ev: started.append(ev.created_at))

    await asyncio.sleep(0.5)
    await _push(out, 1.0)  # faster than real time, as TTS usually is
    out.flush()
    assert out.playing
    ev = await asyncio.wait_for(out.wait_for_playout(), 5)

    assert started == [pytest.approx(t0 + 0.5)]
    assert loop.time() == pytest.approx(t0 + 1.5)
    assert ev.playback_position == pytest.approx(1.0) and not ev.interrupted
    assert not out.playing
    await asyncio.sleep(0.5)
    await out.aclose()

    audio = read_wav(tmp_path / "out.wav")
    assert audio.sample_rate == RATE and audio.num_channels == 1
    assert audio.duration == pytest.approx(2.0, abs=0.001)  # padded up to aclose
    assert _spans(tmp_path / "out.wav") == [(0.5, 1.5)]
    assert dominant_hz(tmp_path / "out.wav", 0.6, 1.4) == pytest.approx(AGENT_HZ, abs=5)
    assert out.segments[0].start == pytest.approx(0.5)
    assert out.segments[0].duration == pytest.approx(1.0)


@pytest.mark.virtual_time
async def test_the_origin_defaults_to_the_first_captured_frame(tmp_path: Path) -> None:
    out = WavAudioOutput(tmp_path / "out.wav")
    await asyncio.sleep(3.0)
    await _push(out, 0.4)
    out.flush()
    await out.wait_for_playout()
    await out.aclose()
    assert _spans(tmp_path / "out.wav") == [(0.0, 0.4)]


@pytest.mark.virtual_time
async def test_clear_buffer_keeps_only_what_was_played(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    out = WavAudioOutput(tmp_path / "out.wav")
    out.start_timeline()
    await _push(out, 2.0)
    out.flush()
    await asyncio.sleep(0.7)
    out.clear_buffer()
    ev = await out.wait_for_playout()
    assert ev.interrupted and ev.playback_position == pytest.approx(0.7)
    out.clear_buffer()  # nothing playing: no second report
    assert len(out.playback_finished_events) == 1

    await asyncio.sleep(0.3)
    t = loop.time()
    await _push(out, 0.2)  # the next segment starts at once, on the same timeline
    out.flush()
    await out.wait_for_playout()
    assert loop.time() == pytest.approx(t + 0.2)
    await out.aclose()
    assert _spans(tmp_path / "out.wav") == [(0.0, 0.7), (1.0, 1.2)]
    assert [s.interrupted for s in out.segments] == [True, False]


@pytest.mark.virtual_time
async def test_pause_holds_the_playhead_and_resume_continues(tmp_path: Path) -> None:
    out = WavAudioOutput(tmp_path / "out.wav")
    assert out.can_pause
    out.start_timeline()
    await _push(out, 1.0)
    out.flush()
    await asyncio.sleep(0.3)
    out.pause()
    await asyncio.sleep(0.5)
    assert out.playing
    out.resume()
    ev = await out.wait_for_playout()
    loop = asyncio.get_running_loop()
    assert loop.time() == pytest.approx(1.5)
    assert ev.playback_position == pytest.approx(1.0) and not ev.interrupted
    await out.aclose()
    assert _spans(tmp_path / "out.wav") == [(0.0, 0.3), (0.8, 1.5)]


@pytest.mark.virtual_time
async def test_a_segment_captured_while_paused_starts_on_resume(tmp_path: Path) -> None:
    out = WavAudioOutput(tmp_path / "out.wav")
    out.start_timeline()
    started: list[float] = []
    out.on("playback_started", lambda ev: started.append(ev.created_at))
    out.pause()
    await _push(out, 0.5)
    out.flush()
    await asyncio.sleep(1.0)
    assert started == []
    out.resume()
    assert started == [pytest.approx(1.0)]
    ev = await out.wait_for_playout()
    assert ev.playback_position == pytest.approx(0.5)
    assert asyncio.get_running_loop().time() == pytest.approx(1.5)
    await out.aclose()
    assert _spans(tmp_path / "out.wav") == [(1.0, 1.5)]


@pytest.mark.virtual_time
async def test_pause_then_clear_reports_the_position_at_the_pause(tmp_path: Path) -> None:
    out = WavAudioOutput(tmp_path / "out.wav")
    out.start_timeline()
    await _push(out, 1.0)
    out.flush()
    await asyncio.sleep(0.4)
    out.pause()
    await asyncio.sleep(1.0)
    out.clear_buffer()
    ev = await out.wait_for_playout()
    assert ev.interrupted and ev.playback_position == pytest.approx(0.4)
    out.resume()
    await out.aclose()
    assert _spans(tmp_path / "out.wav") == [(0.0, 0.4)]


@pytest.mark.virtual_time
async def test_frames_slower_than_real_time_underrun_like_a_sound_card(tmp_path: Path) -> None:
    out = WavAudioOutput(tmp_path / "out.wav")
    out.start_timeline()
    for frame in _frames(0.3, frame_ms=100):
        await out.capture_frame(frame)
        await asyncio.sleep(0.2)  # each 100 ms frame arrives 200 ms after the previous
    out.flush()
    ev = await out.wait_for_playout()
    assert ev.playback_position == pytest.approx(0.3)
    await out.aclose()
    assert _spans(tmp_path / "out.wav") == [(0.0, 0.1), (0.2, 0.3), (0.4, 0.5)]


@pytest.mark.virtual_time
async def test_other_rates_and_channels_are_converted(tmp_path: Path) -> None:
    out = WavAudioOutput(tmp_path / "out.wav", sample_rate=RATE)
    out.start_timeline()
    stereo = np.stack([tone(0.5, rate=16000, hz=AGENT_HZ)] * 2, axis=1)
    for frame in frames_from_array(stereo, 16000, 320):
        await out.capture_frame(frame)
    out.flush()
    ev = await out.wait_for_playout()
    assert ev.playback_position == pytest.approx(0.5)
    await out.aclose()
    audio = read_wav(tmp_path / "out.wav")
    assert audio.sample_rate == RATE and audio.num_channels == 1
    [(start, end)] = loud_spans(tmp_path / "out.wav")
    assert start == pytest.approx(0.0, abs=0.02) and end == pytest.approx(0.5, abs=0.02)
    assert dominant_hz(tmp_path / "out.wav", 0.1, 0.4) == pytest.approx(AGENT_HZ, abs=5)


@pytest.mark.virtual_time
async def test_sync_to_input_shares_the_input_timeline(tmp_path: Path) -> None:
    inp = WavAudioInput(write_speech_wav(tmp_path / "in.wav", [], 1.0), trailing_silence=0.0)
    out = WavAudioOutput(tmp_path / "out.wav")
    out.sync_to(inp)
    await asyncio.sleep(2.0)  # the input starts later than the objects are made
    reader = asyncio.create_task(_drain(inp))
    await asyncio.sleep(0.6)
    await _push(out, 0.2)
    out.flush()
    await out.wait_for_playout()
    await reader
    await out.aclose()
    assert out.origin == inp.started_at == pytest.approx(2.0)
    assert _spans(tmp_path / "out.wav") == [(0.6, 0.8)]
    assert read_wav(tmp_path / "out.wav").duration == pytest.approx(1.0)


async def _drain(source: WavAudioInput) -> None:
    async for _ in source:
        pass


@pytest.mark.virtual_time
async def test_aclose_while_playing_ends_the_segment_where_it_is(tmp_path: Path) -> None:
    out = WavAudioOutput(tmp_path / "out.wav")
    out.start_timeline()
    await _push(out, 2.0)
    out.flush()
    waiter = asyncio.create_task(out.wait_for_playout())
    await asyncio.sleep(0.5)
    await out.aclose()
    ev = await asyncio.wait_for(waiter, 1)
    assert ev.interrupted and ev.playback_position == pytest.approx(0.5)
    await out.aclose()  # idempotent
    await out.capture_frame(_frames(0.1)[0])  # ignored after close
    assert _spans(tmp_path / "out.wav") == [(0.0, 0.5)]


@pytest.mark.virtual_time
async def test_an_unused_output_still_leaves_a_valid_file(tmp_path: Path) -> None:
    out = WavAudioOutput(tmp_path / "sub" / "out.wav")
    out.flush()
    out.clear_buffer()
    await out.aclose()
    assert read_wav(tmp_path / "sub" / "out.wav").samples_per_channel == 0


@pytest.mark.virtual_time
async def test_without_a_path_only_the_clock_runs(tmp_path: Path) -> None:
    out = WavAudioOutput(None)
    await _push(out, 0.3)
    out.flush()
    ev = await out.wait_for_playout()
    assert ev.playback_position == pytest.approx(0.3)
    assert asyncio.get_running_loop().time() == pytest.approx(0.3)
    await out.aclose()
    assert out.path is None and out.duration == pytest.approx(0.3)


@pytest.mark.virtual_time
async def test_in_a_session_an_interrupted_reply_is_cut_in_the_file(tmp_path: Path) -> None:
    """The session interrupts the agent (user speaks at 3.0 s): the file holds the reply up to
    the interruption, and the committed message says it was interrupted."""
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "Tell me a story.")
    actions.add_llm("Once upon a time, there was a very long story.")
    actions.add_tts(4.0)
    actions.add_user_speech(3.0, 4.0, "Stop, please.")
    session = create_session(
        actions,
        turn_handling={"interruption": {"min_duration": 0.3}},
        extra_kwargs={"tts": ToneTTS(actions)},
    )
    audio_in = session.input.audio
    assert isinstance(audio_in, FakeAudioInput)
    out = WavAudioOutput(tmp_path / "out.wav")
    session.output.audio = out
    session.output.transcription = FakeTextOutput()
    audio_in.push(8.0)
    await session.start(Agent(instructions="Tell stories."))
    origin = await audio_in.wait_first_frame()
    out.start_timeline(origin)
    await asyncio.sleep(8.0)
    audio_in.close()
    await session.aclose()
    await out.aclose()

    [segment] = out.segments
    assert segment.interrupted
    heard = segment.start + segment.duration
    assert 3.0 < heard < 3.6  # cut within the interruption delay of the user's speech
    [(start, end)] = loud_spans(tmp_path / "out.wav")
    assert start == pytest.approx(segment.start, abs=0.02)
    assert end == pytest.approx(heard, abs=0.02)
    reply = [m for m in session.history.items if m.type == "message" and m.role == "assistant"]
    assert reply and reply[0].interrupted
