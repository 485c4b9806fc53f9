"""The sounddevice I/O, against a stand-in `sounddevice` module (this machine has no device,
and CI has no PortAudio): the device callbacks are driven by hand."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import types
from typing import Any

import numpy as np
import pytest

from console.helpers import FakeStream, fake_sounddevice
from voxline.audio import AudioFrame
from voxline.console import (
    SoundDeviceAudioInput,
    SoundDeviceAudioOutput,
    SoundDeviceUnavailableError,
    describe_sound_devices,
    has_sound_device,
    sound_device_problem,
)


@pytest.fixture
def fake_sd(monkeypatch: pytest.MonkeyPatch) -> Any:
    FakeStream.instances.clear()
    mod = fake_sounddevice()
    monkeypatch.setitem(sys.modules, "sounddevice", mod)
    return mod


def test_no_device_here_and_the_probe_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    assert has_sound_device() is False
    assert "sounddevice is not usable" in (sound_device_problem() or "")
    assert describe_sound_devices().startswith("no sound devices")

    broken = types.ModuleType("sounddevice")

    def query_devices(kind: str | None = None) -> Any:
        raise RuntimeError("Error querying device -1")

    broken.query_devices = query_devices  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", broken)
    assert has_sound_device("input") is False
    assert "Error querying device" in (sound_device_problem("output") or "")

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(input_channels=0))
    assert has_sound_device("output") is True
    assert has_sound_device("input") is False
    assert has_sound_device() is False


def test_has_sound_device_with_a_device(fake_sd: Any) -> None:
    assert has_sound_device() is True
    assert sound_device_problem() is None
    assert "Fake Mic" in describe_sound_devices()


def test_importing_the_console_loads_neither_sounddevice_nor_rich() -> None:
    """`AgentSession.start()` imports voxline.console: it must stay light and never fail."""
    code = (
        "import sys, voxline.console, voxline.console._context\n"
        "assert 'sounddevice' not in sys.modules, 'sounddevice'\n"
        "assert 'rich' not in sys.modules, 'rich'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_opening_a_device_without_sounddevice_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(SoundDeviceUnavailableError, match="pip install sounddevice"):
        async for _ in SoundDeviceAudioInput():
            pass
    out = SoundDeviceAudioOutput()
    with pytest.raises(SoundDeviceUnavailableError):
        await out.capture_frame(AudioFrame.create(24000, 1, 240))


async def test_microphone_frames_reach_the_loop(fake_sd: Any) -> None:
    mic = SoundDeviceAudioInput(sample_rate=16000, frame_ms=10, max_queued=3)
    frames = mic.__aiter__()
    first = asyncio.ensure_future(frames.__anext__())
    await asyncio.sleep(0)
    [stream] = FakeStream.instances
    assert stream.active and stream.samplerate == 16000 and stream.kwargs["blocksize"] == 160
    stream.push(np.full((160, 1), 5, dtype=np.int16))
    frame = await asyncio.wait_for(first, 1)
    assert frame.sample_rate == 16000 and frame.samples_per_channel == 160
    assert int(frame.data[0]) == 5

    for value in range(10, 15):  # the consumer is late: only the newest 3 are kept
        stream.push(np.full((160, 1), value, dtype=np.int16))
    await asyncio.sleep(0.01)
    got = [int((await frames.__anext__()).data[0]) for _ in range(3)]
    assert got == [12, 13, 14] and mic.dropped_frames == 2
    await frames.aclose()  # type: ignore[attr-defined]
    assert stream.closed


async def test_speaker_reports_playout_from_the_device_callback(fake_sd: Any) -> None:
    out = SoundDeviceAudioOutput(sample_rate=1000, num_channels=2, blocksize=100)
    assert out.can_pause
    started: list[Any] = []
    out.on("playback_started", started.append)
    await out.capture_frame(AudioFrame(np.arange(250, dtype=np.int16), 1000, 1, 250))
    [stream] = FakeStream.instances
    assert stream.channels == 2 and out.playing
    out.flush()
    block = stream.pull(100)
    assert block[:, 0].tolist() == list(range(100)) and block[:, 1].tolist() == list(range(100))
    await asyncio.sleep(0)
    assert len(started) == 1
    stream.pull(100)
    last = stream.pull(100)
    assert last[:50, 0].tolist() == list(range(200, 250)) and not last[50:].any()
    ev = await asyncio.wait_for(out.wait_for_playout(), 1)
    assert ev.playback_position == pytest.approx(0.25) and not ev.interrupted
    assert not out.playing
    assert not stream.pull(100).any()  # silence between segments
    await out.aclose()
    assert stream.closed


async def test_speaker_clear_and_pause(fake_sd: Any) -> None:
    out = SoundDeviceAudioOutput(sample_rate=1000, blocksize=100)
    finished: list[Any] = []
    out.on("playback_finished", finished.append)
    await out.capture_frame(AudioFrame(np.ones(1000, dtype=np.int16), 1000, 1, 1000))
    [stream] = FakeStream.instances
    stream.pull(100)
    out.pause()
    assert not stream.pull(100).any()  # paused: silence, playhead held
    out.resume()
    stream.pull(200)
    out.clear_buffer()
    ev = await asyncio.wait_for(out.wait_for_playout(), 1)
    assert ev.interrupted and ev.playback_position == pytest.approx(0.3)
    assert not stream.pull(100).any()
    out.clear_buffer()  # nothing left: no second report
    await asyncio.sleep(0)
    assert len(finished) == 1
    await out.aclose()


async def test_speaker_resamples_other_rates(fake_sd: Any) -> None:
    out = SoundDeviceAudioOutput(sample_rate=24000)
    frame = AudioFrame.from_numpy(np.full(1600, 0.5, dtype=np.float32), 16000)
    await out.capture_frame(frame)
    out.flush()
    [stream] = FakeStream.instances
    played = np.concatenate([stream.pull(480) for _ in range(6)])
    ev = await asyncio.wait_for(out.wait_for_playout(), 1)
    assert ev.playback_position == pytest.approx(0.1)
    assert 2300 <= int(np.count_nonzero(played)) <= 2500  # 0.1 s at 24 kHz
    await out.aclose()
