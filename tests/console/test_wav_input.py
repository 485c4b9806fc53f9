"""WavAudioInput: a WAV file as a real-time microphone on the loop clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from console.helpers import tone, write_speech_wav
from voxline.audio import AudioFrame, write_wav
from voxline.console import WavAudioInput


async def _collect(source: WavAudioInput) -> list[tuple[float, AudioFrame]]:
    loop = asyncio.get_running_loop()
    return [(loop.time(), frame) async for frame in source]


@pytest.mark.virtual_time
async def test_frames_follow_an_absolute_schedule_then_silence_then_end(tmp_path: Path) -> None:
    path = write_speech_wav(tmp_path / "in.wav", [(0.0, 0.5)], 0.5)
    source = WavAudioInput(path, trailing_silence=0.2)
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    source.add_start_listener(starts.append)
    t0 = loop.time()
    frames = await _collect(source)

    assert starts == [t0] and source.started_at == t0
    assert len(frames) == 35  # 25 frames of file + 10 of silence, 20 ms each
    for k, (at, frame) in enumerate(frames):
        assert at == pytest.approx(t0 + k * 0.02, abs=1e-9)
        assert frame.samples_per_channel == 320 and frame.sample_rate == 16000
    assert all(np.any(f.data) for _, f in frames[:25])
    assert not any(np.any(f.data) for _, f in frames[25:])
    assert loop.time() == pytest.approx(t0 + 0.7)  # ends after the trailing silence, in time
    assert source.done.is_set() and source.ended.is_set()


@pytest.mark.virtual_time
async def test_done_is_set_when_the_file_was_played(tmp_path: Path) -> None:
    path = write_speech_wav(tmp_path / "in.wav", [], 0.4)
    source = WavAudioInput(path, trailing_silence=1.0)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    consumer = asyncio.create_task(_collect(source))
    await asyncio.wait_for(source.wait_done(), 5)
    assert loop.time() == pytest.approx(t0 + 0.4)
    assert not source.ended.is_set()
    await consumer
    assert loop.time() == pytest.approx(t0 + 1.4)


@pytest.mark.virtual_time
async def test_a_slow_consumer_catches_up_without_drift(tmp_path: Path) -> None:
    path = write_speech_wav(tmp_path / "in.wav", [(0.0, 1.0)], 1.0)
    source = WavAudioInput(path, trailing_silence=0.0)
    loop = asyncio.get_running_loop()
    times: list[float] = []
    async for _ in source:
        times.append(loop.time())
        if len(times) == 10:
            await asyncio.sleep(0.1)  # a hiccup at 0.18 s, five frames long
    t0 = times[0]
    assert times[10] == pytest.approx(t0 + 0.28)  # the late frames (due 0.20-0.28) at once...
    assert times[14] == pytest.approx(t0 + 0.28)
    assert times[15] == pytest.approx(t0 + 0.30)  # ...then the original schedule resumes
    assert times[-1] == pytest.approx(t0 + 0.98)


@pytest.mark.virtual_time
async def test_a_new_iteration_continues_where_the_last_one_stopped(tmp_path: Path) -> None:
    path = write_speech_wav(tmp_path / "in.wav", [(0.0, 0.4)], 0.4)
    source = WavAudioInput(path, trailing_silence=0.0)
    loop = asyncio.get_running_loop()
    first = 0
    async for _ in source:
        first += 1
        if first == 8:
            break
    t0 = source.started_at
    assert t0 is not None
    rest = await _collect(source)
    assert len(rest) == 12
    assert rest[0][0] == pytest.approx(t0 + 8 * 0.02)
    assert loop.time() == pytest.approx(t0 + 0.4)


@pytest.mark.virtual_time
async def test_any_rate_and_channels_resampled_on_request(tmp_path: Path) -> None:
    stereo = np.stack([tone(0.5, rate=44100), tone(0.5, rate=44100, hz=500)], axis=1)
    path = tmp_path / "stereo.wav"
    write_wav(path, AudioFrame.from_numpy(stereo, 44100))
    source = WavAudioInput(path, sample_rate=16000, frame_ms=10, trailing_silence=0.0)
    assert source.sample_rate == 16000 and source.num_channels == 2
    assert source.duration == pytest.approx(0.5, abs=0.002)
    frames = [f for _, f in await _collect(source)]
    assert {f.sample_rate for f in frames} == {16000}
    assert {f.num_channels for f in frames} == {2}
    assert frames[0].samples_per_channel == 160
    assert sum(f.duration for f in frames) == pytest.approx(0.5, abs=0.002)

    native = WavAudioInput(path, trailing_silence=0.0)
    assert native.sample_rate == 44100 and native.num_channels == 2


@pytest.mark.virtual_time
async def test_not_realtime_hands_out_everything_at_once(tmp_path: Path) -> None:
    path = write_speech_wav(tmp_path / "in.wav", [(0.0, 1.0)], 1.0)
    source = WavAudioInput(path, realtime=False, trailing_silence=0.5)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    frames = await _collect(source)
    assert len(frames) == 75 and loop.time() == t0
    assert source.done.is_set() and source.ended.is_set()


def test_bad_arguments_are_rejected_early(tmp_path: Path) -> None:
    path = write_speech_wav(tmp_path / "in.wav", [], 0.1)
    with pytest.raises(ValueError, match="frame_ms"):
        WavAudioInput(path, frame_ms=0)
    with pytest.raises(ValueError, match="trailing_silence"):
        WavAudioInput(path, trailing_silence=-1)
    with pytest.raises(FileNotFoundError):
        WavAudioInput(tmp_path / "missing.wav")


async def test_real_time_pacing_on_the_real_clock(tmp_path: Path) -> None:
    """The same schedule against wall time: 0.3 s of file + 0.1 s of silence."""
    path = write_speech_wav(tmp_path / "in.wav", [(0.0, 0.3)], 0.3)
    source = WavAudioInput(path, trailing_silence=0.1)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    frames = await asyncio.wait_for(_collect(source), 5)
    elapsed = loop.time() - t0
    assert len(frames) == 20
    assert 0.39 <= elapsed < 0.6
    lateness = [at - (t0 + k * 0.02) for k, (at, _) in enumerate(frames)]
    assert max(lateness) < 0.05  # absolute schedule: lateness never accumulates
