"""`voxline.rtc.Room` over the LiveKit backend, with the SDK's network join replaced by the
state a LiveKit server would send: the URL picks the backend, the join snapshot becomes the
room's state, and SDK events (kinds, attributes, reasons, subscribed media) come out as the
room's own events and streams, which is all RoomIO uses."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from livekit import rtc as lk
from livekit.rtc._proto import participant_pb2

from rtc.livekit_support import publication_info, sdk_participant
from voxline import rtc
from voxline.audio import AudioFrame
from voxline.rtc.livekit import LiveKitBackend

CALLER = sdk_participant(
    "caller",
    kind=lk.ParticipantKind.PARTICIPANT_KIND_SIP,
    attributes={"sip.phoneNumber": "+15550100"},
    publications=[publication_info("TR_caller_mic")],
)


@pytest.fixture
def livekit_join(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Make `lk.Room.connect` install what a LiveKit server answers to a join."""
    calls: list[tuple[str, str]] = []

    async def connect(self: lk.Room, url: str, token: str, options: Any = None) -> None:
        calls.append((url, token))
        info = participant_pb2.ParticipantInfo(
            sid="PA_agent",
            identity="agent-AJ_1",
            name="Agent",
            kind=lk.ParticipantKind.PARTICIPANT_KIND_AGENT,
        )
        self._local_participant = lk.LocalParticipant(
            self._room_queue, participant_pb2.OwnedParticipant(info=info)
        )
        self._info.name = "support"
        self._info.sid = "RM_support"
        self._info.metadata = '{"tier": "gold"}'
        self._remote_participants = {"caller": CALLER}

    monkeypatch.setattr(lk.Room, "connect", connect)
    return calls


async def test_a_wss_url_joins_through_the_sdk_with_the_join_snapshot(
    livekit_join: list[tuple[str, str]],
) -> None:
    room = rtc.Room()
    await room.connect("wss://demo.livekit.cloud", "a.jwt.token")
    assert livekit_join == [("wss://demo.livekit.cloud", "a.jwt.token")]
    assert isinstance(room.backend, LiveKitBackend)
    assert (room.name, room.metadata) == ("support", '{"tier": "gold"}')
    local = room.local_participant
    assert (local.identity, local.kind) == ("agent-AJ_1", rtc.ParticipantKind.AGENT)
    caller = room.remote_participants["caller"]
    assert caller.kind == rtc.ParticipantKind.SIP
    assert caller.attributes == {"sip.phoneNumber": "+15550100"}
    assert list(caller.track_publications) == ["TR_caller_mic"]
    await room.disconnect()


async def test_sdk_events_become_room_events(livekit_join: list[tuple[str, str]]) -> None:
    room = rtc.Room()
    seen: list[tuple[Any, ...]] = []
    room.on("participant_connected", lambda p: seen.append(("connected", p.identity, p.kind)))
    room.on(
        "participant_attributes_changed",
        lambda changed, p: seen.append(("attributes", p.identity, changed)),
    )
    room.on(
        "participant_disconnected",
        lambda p: seen.append(("disconnected", p.identity, p.disconnect_reason)),
    )
    room.on("disconnected", lambda reason: seen.append(("room_disconnected", reason)))
    await room.connect("wss://demo.livekit.cloud", "a.jwt.token")
    sdk = room.backend.sdk_room  # type: ignore[union-attr]
    assert sdk is not None

    user = sdk_participant("web-user")
    sdk._remote_participants["web-user"] = user
    sdk.emit("participant_connected", user)
    user._info.attributes["lk.agent.state"] = "listening"
    sdk.emit("participant_attributes_changed", {"lk.agent.state": "listening"}, user)
    user._info.disconnect_reason = lk.DisconnectReason.USER_REJECTED
    sdk.emit("participant_disconnected", user)
    sdk.emit("disconnected", lk.DisconnectReason.ROOM_DELETED)

    assert seen == [
        ("connected", "web-user", rtc.ParticipantKind.STANDARD),
        ("attributes", "web-user", {"lk.agent.state": "listening"}),
        ("disconnected", "web-user", rtc.DisconnectReason.USER_REJECTED),
        ("room_disconnected", rtc.DisconnectReason.ROOM_DELETED),
    ]
    assert not room.isconnected()


async def test_subscribed_sdk_audio_reaches_a_room_audio_stream(
    livekit_join: list[tuple[str, str]],
) -> None:
    room = rtc.Room()
    subscribed: asyncio.Queue[Any] = asyncio.Queue()
    room.on("track_subscribed", lambda track, pub, p: subscribed.put_nowait((track, p.identity)))
    await room.connect("wss://demo.livekit.cloud", "a.jwt.token")
    sdk = room.backend.sdk_room  # type: ignore[union-attr]

    # The SDK's own media path stands in for the caller's microphone.
    source = lk.AudioSource(48000, 1, queue_size_ms=100)
    track = lk.LocalAudioTrack.create_audio_track("mic", source)
    publication = CALLER.track_publications["TR_caller_mic"]
    sdk.emit("track_subscribed", track, publication, CALLER)
    remote_track, identity = await asyncio.wait_for(subscribed.get(), 5)
    assert identity == "caller" and isinstance(remote_track, rtc.RemoteAudioTrack)

    stream = rtc.AudioStream(remote_track, sample_rate=16000, num_channels=1)
    t = np.arange(960) / 48000

    async def speak() -> None:
        for index in range(50):  # 1 s of a 300 Hz tone in 20 ms frames
            tone = (0.3 * 32767 * np.sin(2 * np.pi * 300 * (t + index * 0.02))).astype(np.int16)
            await source.capture_frame(lk.AudioFrame(tone.tobytes(), 48000, 1, 960))

    speaker = asyncio.ensure_future(speak())
    received: list[AudioFrame] = []

    async def listen() -> None:
        async for event in stream:
            received.append(event.frame)
            if sum(f.samples_per_channel for f in received) >= 8000:
                return

    await asyncio.wait_for(listen(), 10)
    speaker.cancel()
    await asyncio.gather(speaker, return_exceptions=True)
    assert {(f.sample_rate, f.num_channels) for f in received} == {(16000, 1)}
    pcm = np.concatenate([f.data for f in received]).astype(np.float64)
    assert np.sqrt(np.mean(pcm[-4000:] ** 2)) > 0.1 * 32767
    await stream.aclose()
    await source.aclose()
    await room.disconnect()
