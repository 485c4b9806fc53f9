"""AudioSource pacing, AudioStream conversion, and media between memory participants."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voxline import rtc
from voxline.audio import AudioFrame
from voxline.video import VideoFrame


def tone(seconds: float, rate: int = 48000, channels: int = 1) -> AudioFrame:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    mono = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    data = np.repeat(mono, channels)
    return AudioFrame(data, rate, channels, n)


@pytest.mark.virtual_time
async def test_capture_waits_when_the_queue_is_full_and_plays_in_real_time() -> None:
    loop = asyncio.get_running_loop()
    source = rtc.AudioSource(48000, 1, queue_size_ms=200)
    played: list[tuple[float, int]] = []
    source._add_sink(lambda f: played.append((loop.time(), f.samples_per_channel)))
    t0 = loop.time()
    await source.capture_frame(tone(0.1))
    assert loop.time() == t0  # room in the queue: returns at once
    await source.capture_frame(tone(1.0))
    # 1.1 s captured into a 0.2 s queue: capture returned once all but ~0.2 s was played
    assert loop.time() - t0 == pytest.approx(0.9, abs=0.03)
    assert source.queued_duration == pytest.approx(0.2, abs=0.021)
    await source.wait_for_playout()
    assert loop.time() - t0 == pytest.approx(1.1, abs=0.03)
    assert sum(n for _, n in played) == int(1.1 * 48000)
    assert {n for _, n in played} == {960}  # 20 ms frames
    times = [t - t0 for t, _ in played]
    assert times[-1] == pytest.approx(1.08, abs=0.001)
    await source.aclose()


@pytest.mark.virtual_time
async def test_clear_queue_stops_playout() -> None:
    loop = asyncio.get_running_loop()
    source = rtc.AudioSource(24000, 1)
    played: list[int] = []
    source._add_sink(lambda f: played.append(f.samples_per_channel))
    await source.capture_frame(tone(0.9, 24000))
    await asyncio.sleep(0.3)
    source.clear_queue()
    assert source.queued_duration == 0
    t = loop.time()
    await source.wait_for_playout()
    assert loop.time() - t <= 0.021
    assert sum(played) / 24000 == pytest.approx(0.32, abs=0.021)
    with pytest.raises(ValueError, match="resample first"):
        await source.capture_frame(tone(0.1, 16000))
    await source.aclose()


@pytest.mark.virtual_time
async def test_audio_stream_on_a_local_track_resamples_and_rechunks() -> None:
    source = rtc.AudioSource(48000, 2)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    stream = rtc.AudioStream(track, sample_rate=16000, num_channels=1, frame_size_ms=50)
    await source.capture_frame(tone(1.0, 48000, 2))
    await source.wait_for_playout()
    frames: list[AudioFrame] = []
    while len(frames) < 19:
        frames.append((await stream.__anext__()).frame)
    assert {(f.sample_rate, f.num_channels, f.samples_per_channel) for f in frames} == {
        (16000, 1, 800)
    }
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    await source.aclose()


@pytest.mark.virtual_time
async def test_audio_and_video_reach_a_remote_participant() -> None:
    hub = rtc.MemoryHub()
    agent, user = hub.room(), hub.room()
    await agent.connect("memory://r", hub.token("r", "agent", kind="agent"))
    await user.connect("memory://r", hub.token("r", "alice"))
    subscribed: list[tuple[rtc.Track, rtc.RemoteTrackPublication, str]] = []
    user.on("track_subscribed", lambda t, pub, p: subscribed.append((t, pub, p.identity)))
    published: list[str] = []
    user.on("track_published", lambda pub, p: published.append(pub.name))

    source = rtc.AudioSource(24000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("roomio_audio", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    pub = await agent.local_participant.publish_track(track, options)
    assert pub.sid == track.sid and pub.sid in agent.local_participant.track_publications
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert published == ["roomio_audio"]
    remote_track, remote_pub, identity = subscribed[0]
    assert identity == "agent" and remote_pub.source == rtc.TrackSource.SOURCE_MICROPHONE
    assert remote_pub.sid == pub.sid and remote_pub.subscribed
    stream = rtc.AudioStream(remote_track, sample_rate=48000)  # type: ignore[arg-type]

    async def read(seconds: float) -> float:
        got = 0.0
        async for ev in stream:
            got += ev.frame.duration
            if got >= seconds - 1e-9:
                break
        return got

    reader = asyncio.ensure_future(read(0.48))  # the resampler holds a few ms back
    await source.capture_frame(tone(0.5, 24000))
    assert await asyncio.wait_for(reader, 1.0) == pytest.approx(0.48, abs=0.011)

    vsource = rtc.VideoSource(4, 2)
    vtrack = rtc.LocalVideoTrack.create_video_track("cam", vsource)
    await agent.local_participant.publish_track(
        vtrack, rtc.TrackPublishOptions(source=rtc.TrackSource.CAMERA)
    )
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    vremote = subscribed[1][0]
    vstream = rtc.VideoStream(vremote)  # type: ignore[arg-type]
    vsource.capture_frame(VideoFrame(np.zeros((2, 4, 3), np.uint8), timestamp=1.5))
    ev = await asyncio.wait_for(vstream.__anext__(), 1.0)
    assert ev.frame.width == 4 and ev.timestamp_us == 1_500_000

    # unpublishing ends the remote streams
    unsubscribed: list[str] = []
    user.on("track_unsubscribed", lambda t, pub, p: unsubscribed.append(pub.name))
    await agent.local_participant.unpublish_track(pub.sid)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert unsubscribed == ["roomio_audio"]
    assert [e async for e in stream] == []
    await agent.aclose()
    await user.aclose()
    await source.aclose()


@pytest.mark.virtual_time
async def test_manual_subscription_without_auto_subscribe() -> None:
    hub = rtc.MemoryHub()
    agent, user = hub.room(), hub.room()
    await agent.connect("memory://r?identity=agent")
    source = rtc.AudioSource(16000, 1)
    pub = await agent.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("a", source)
    )
    await user.connect("memory://r?identity=u", options=rtc.RoomOptions(auto_subscribe=False))
    remote_pub = user.remote_participants["agent"].track_publications[pub.sid]
    assert not remote_pub.subscribed and remote_pub.track is None
    events: list[str] = []
    user.on("track_subscribed", lambda t, p, part: events.append("subscribed"))
    remote_pub.set_subscribed(True)
    for _ in range(5):
        await asyncio.sleep(0)
    assert events == ["subscribed"] and remote_pub.track is not None
    await agent.aclose()
    await user.aclose()
    await source.aclose()
