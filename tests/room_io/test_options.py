"""Every RoomOptions field and the linking rules, on the memory backend."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from room_io.helpers import ROOM, settle, start
from voxline import Agent, rtc
from voxline.audio import AudioFrame
from voxline.room_io import (
    AudioInputOptions,
    AudioOutputOptions,
    NoiseCancellationParams,
    RoomIO,
    RoomOptions,
    TextInputEvent,
    TextInputOptions,
    TextOutputOptions,
)
from voxline.rtc import DisconnectReason, ParticipantKind
from voxline.testing.fakes import FakeActions
from voxline.video import VideoFrame


def linked(s: Any) -> str | None:
    p = s.session.room_io.linked_participant
    return p.identity if p is not None else None


# ------------------------------------------------------------------ linking


@pytest.mark.virtual_time
async def test_links_the_first_participant_of_an_allowed_kind() -> None:
    s = await start()
    assert linked(s) is None
    await s.join("other-agent", kind="agent")
    await s.join("egress", kind="egress")
    assert linked(s) is None
    await s.join("caller", kind="sip")
    await s.join("alice")
    assert linked(s) == "caller"
    assert s.session.room_io.audio_input.track.sid == s.users[2].mic_sid
    await s.aclose()


@pytest.mark.virtual_time
async def test_participant_kinds_restricts_linking() -> None:
    s = await start(RoomOptions(participant_kinds=[ParticipantKind.SIP]))
    await s.join("alice")
    assert linked(s) is None
    await s.join("phone", kind="sip")
    assert linked(s) == "phone"
    await s.aclose()


@pytest.mark.virtual_time
async def test_participant_identity_links_only_that_participant() -> None:
    s = await start(RoomOptions(participant_identity="bob"), before=[("alice", "standard")])
    assert linked(s) is None
    await s.join("bob")
    assert linked(s) == "bob"
    await s.aclose()


@pytest.mark.virtual_time
async def test_set_and_unset_participant_at_run_time() -> None:
    s = await start(before=[("alice", "standard"), ("bob", "standard")])
    room_io = s.session.room_io
    assert linked(s) == "alice"
    room_io.set_participant("bob")
    await settle()
    assert linked(s) == "bob"
    assert room_io.audio_input.track.sid == s.users[1].mic_sid
    room_io.unset_participant()
    await settle()
    assert linked(s) is None and room_io.audio_input.track is None
    await s.join("carol")  # nobody is linked after unset until set_participant()
    assert linked(s) is None
    room_io.set_participant("carol")
    await settle()
    assert linked(s) == "carol"
    room_io.set_participant("dave")  # not here yet: linked when it joins
    await settle()
    assert linked(s) is None
    await s.join("dave")
    assert linked(s) == "dave"
    await s.aclose()


# ------------------------------------------------------------------ closing


@pytest.mark.virtual_time
@pytest.mark.parametrize("reason", list(DisconnectReason))
async def test_close_on_disconnect_only_for_three_reasons(reason: DisconnectReason) -> None:
    s = await start(before=[("alice", "standard")])
    closes: list[Any] = []
    s.session.on("close", closes.append)
    await s.hub.remove_participant(ROOM, "alice", reason)
    await asyncio.sleep(0.5)
    closing = reason in {
        DisconnectReason.CLIENT_INITIATED,
        DisconnectReason.ROOM_DELETED,
        DisconnectReason.USER_REJECTED,
    }
    if closing:
        assert [c.reason.value for c in closes] == ["participant_disconnected"]
        assert s.session.lifecycle == "closed"
    else:
        assert closes == [] and s.session.lifecycle == "running"
        assert linked(s) is None  # waiting for someone to link again
        await s.join("alice")
        assert linked(s) == "alice"
    await s.aclose()


@pytest.mark.virtual_time
async def test_only_the_linked_participant_closes_the_session() -> None:
    s = await start(before=[("alice", "standard"), ("bob", "standard")])
    await s.users[1].room.disconnect()  # bob hangs up: not linked
    await asyncio.sleep(0.5)
    assert s.session.lifecycle == "running"
    await s.users[0].room.disconnect()  # alice hangs up
    await asyncio.sleep(0.5)
    assert s.session.lifecycle == "closed"
    await s.aclose()


@pytest.mark.virtual_time
async def test_close_on_disconnect_false_keeps_the_session_and_relinks() -> None:
    s = await start(RoomOptions(close_on_disconnect=False), before=[("alice", "standard")])
    await s.users[0].room.disconnect()
    await asyncio.sleep(0.5)
    assert s.session.lifecycle == "running" and linked(s) is None
    await s.join("bob")
    assert linked(s) == "bob"
    await s.aclose()


@pytest.mark.virtual_time
@pytest.mark.parametrize("delete", [True, False])
async def test_delete_room_on_close(delete: bool) -> None:
    s = await start(RoomOptions(delete_room_on_close=delete), before=[("alice", "standard")])
    reasons: list[DisconnectReason] = []
    s.users[0].room.on("disconnected", reasons.append)
    await s.session.aclose()
    await settle()
    if delete:
        assert reasons == [DisconnectReason.ROOM_DELETED]
        assert ROOM not in s.hub.rooms
    else:
        assert reasons == [] and ROOM in s.hub.rooms
    await s.aclose()


# ------------------------------------------------------------------ text in


@pytest.mark.virtual_time
async def test_chat_from_the_linked_participant_is_answered() -> None:
    actions = FakeActions()
    actions.add_llm("Hello Alice.", input="hi there")
    actions.add_tts(1.0)
    s = await start(before=[("alice", "standard"), ("bob", "standard")], actions=actions)
    items: list[Any] = []
    s.session.on("conversation_item_added", lambda ev: items.append(ev.item))
    await s.users[1].chat("ignored, bob is not linked")
    await s.users[0].chat("hi there")
    await asyncio.sleep(3)
    assert [(i.role, i.text_content) for i in items] == [
        ("user", "hi there"),
        ("assistant", "Hello Alice."),
    ]
    await s.aclose()


@pytest.mark.virtual_time
async def test_text_input_callback_and_text_input_off() -> None:
    got: list[tuple[str, str, str]] = []

    async def on_text(session: Any, ev: TextInputEvent) -> None:
        got.append((ev.text, ev.participant.identity, ev.info.topic))

    s = await start(
        RoomOptions(text_input=TextInputOptions(text_input_cb=on_text)),
        before=[("alice", "standard")],
    )
    await s.users[0].chat("hello")
    await settle()
    assert got == [("hello", "alice", "lk.chat")]
    await s.aclose()

    s = await start(RoomOptions(text_input=False), before=[("alice", "standard")])
    items: list[Any] = []
    s.session.on("conversation_item_added", lambda ev: items.append(ev.item))
    await s.users[0].chat("hello")
    await asyncio.sleep(1)
    assert items == []
    await s.aclose()


# ------------------------------------------------------------------ slots on and off


@pytest.mark.virtual_time
async def test_slots_off() -> None:
    s = await start(
        RoomOptions(audio_input=False, audio_output=False, text_output=False),
        before=[("alice", "standard")],
    )
    assert s.session.input.audio is None
    assert s.session.output.audio is None
    assert s.session.output.transcription is None
    assert s.agent_room.local_participant.track_publications == {}
    assert linked(s) == "alice"
    await s.aclose()


@pytest.mark.virtual_time
async def test_defaults_and_output_options() -> None:
    s = await start(before=[("alice", "standard")])
    assert s.session.input.video is None  # video input is off by default
    room_io = s.session.room_io
    assert room_io.options.kinds() == (
        ParticipantKind.STANDARD,
        ParticipantKind.SIP,
        ParticipantKind.CONNECTOR,
    )
    pub = next(iter(s.agent_room.local_participant.track_publications.values()))
    assert (pub.name, pub.sample_rate, pub.source) == (
        "roomio_audio",
        24000,
        rtc.TrackSource.SOURCE_MICROPHONE,
    )
    assert s.session.output.sync_transcription is True
    await s.aclose()

    s = await start(
        RoomOptions(
            audio_output=AudioOutputOptions(sample_rate=48000, num_channels=2, track_name="voice"),
            text_output=TextOutputOptions(sync_transcription=False, transcription_speed_factor=1.5),
        )
    )
    pub = next(iter(s.agent_room.local_participant.track_publications.values()))
    assert (pub.name, pub.sample_rate, pub.num_channels) == ("voice", 48000, 2)
    assert s.session.output.audio.sample_rate == 48000
    assert s.session.output.sync_transcription is False
    assert s.session.output.transcription_speed_factor == 1.5
    await s.aclose()


def test_bad_options_are_refused() -> None:
    with pytest.raises(TypeError, match="audio_input must be a bool or AudioInputOptions"):
        RoomOptions(audio_input="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate"):
        AudioInputOptions(sample_rate=0)
    with pytest.raises(TypeError, match="noise_cancellation"):
        AudioInputOptions(noise_cancellation=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="transcription_speed_factor"):
        TextOutputOptions(transcription_speed_factor=0)
    with pytest.raises(ValueError, match="unknown participant kind"):
        RoomOptions(participant_kinds=["robot"])  # type: ignore[list-item]
    assert AudioInputOptions() == AudioInputOptions(
        sample_rate=24000,
        num_channels=1,
        frame_size_ms=50,
        noise_cancellation=None,
        pre_connect_audio=True,
        pre_connect_audio_timeout=3.0,
    )


@pytest.mark.virtual_time
async def test_room_io_needs_a_connected_room() -> None:
    s = await start(start_session=False)
    with pytest.raises(TypeError, match=r"voxline\.rtc\.Room"):
        RoomIO(s.session, object()).room  # noqa: B018
    with pytest.raises(RuntimeError, match="connected room"):
        await RoomIO(s.session, rtc.Room()).start()
    await s.aclose()


# ------------------------------------------------------------------ audio in


class Recorder:
    """A noise-cancellation stand-in: halves the signal and records what it saw."""

    def __init__(self) -> None:
        self.frames: list[AudioFrame] = []
        self.closed = False

    def process(self, frame: AudioFrame) -> AudioFrame:
        self.frames.append(frame)
        out = (frame.data // 2).astype(np.int16)
        return AudioFrame(out, frame.sample_rate, frame.num_channels, frame.samples_per_channel)

    def close(self) -> None:
        self.closed = True


@pytest.mark.virtual_time
async def test_noise_cancellation_processor_and_selector() -> None:
    recorder = Recorder()
    s = await start(
        RoomOptions(audio_input=AudioInputOptions(noise_cancellation=recorder)),
        before=[("alice", "standard")],
    )
    s.users[0].talk(0.5)
    await asyncio.sleep(0.6)
    assert len(recorder.frames) >= 8
    assert {(f.sample_rate, f.samples_per_channel) for f in recorder.frames} == {(24000, 1200)}
    await s.aclose()
    assert recorder.closed

    per_participant: dict[str, Recorder] = {}
    params: list[NoiseCancellationParams] = []

    def select(p: NoiseCancellationParams) -> Recorder | None:
        params.append(p)
        if p.participant.kind == ParticipantKind.SIP:
            per_participant[p.participant.identity] = Recorder()
            return per_participant[p.participant.identity]
        return None

    s = await start(
        RoomOptions(audio_input=AudioInputOptions(noise_cancellation=select)),
        before=[("phone", "sip"), ("alice", "standard")],
    )
    assert [(p.participant.identity, p.track.sid) for p in params] == [
        ("phone", s.users[0].mic_sid)
    ]
    s.users[0].talk(0.3)
    await asyncio.sleep(0.4)
    assert per_participant["phone"].frames
    s.session.room_io.set_participant("alice")
    await settle()
    assert per_participant["phone"].closed  # a selector's processor ends with its link
    assert s.session.room_io.audio_input.processor is None
    await s.aclose()


@pytest.mark.virtual_time
async def test_pre_connect_audio_is_heard_before_the_live_microphone() -> None:
    recorder = Recorder()
    s = await start(
        RoomOptions(audio_input=AudioInputOptions(noise_cancellation=recorder)),
        before=[],
    )
    # the client recorded 1 s of tone before the agent was there and sends it once it is
    user_room = s.hub.room()
    await user_room.connect(f"memory://{ROOM}", s.hub.token(ROOM, "alice"))
    tone = (np.sin(np.arange(16000) / 16000 * 2 * np.pi * 300) * 10000).astype(np.int16)
    writer = await user_room.local_participant.stream_bytes(
        "buffer",
        topic="lk.agent.pre-connect-audio-buffer",
        mime_type="audio/pcm",
        attributes={"sampleRate": "16000", "channels": "1"},
    )
    await writer.write(tone.tobytes()[:16000])
    await asyncio.sleep(0.3)  # the buffer is still arriving when the microphone appears
    source = rtc.AudioSource(48000, 1)
    await user_room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("mic", source)
    )
    await settle()
    for _ in range(10):
        await source.capture_frame(AudioFrame.create(48000, 1, 960))
    await writer.write(tone.tobytes()[16000:])
    await writer.aclose()
    await asyncio.sleep(0.5)
    loud = [float(np.abs(f.data).mean()) > 1000 for f in recorder.frames]
    # 1 s of buffered tone = 20 loud 50 ms frames first, then the live (silent) microphone
    assert loud[:19] == [True] * 19
    assert not any(loud[21:]) and len(loud) > 22
    await source.aclose()
    await user_room.disconnect()
    await s.aclose()


@pytest.mark.virtual_time
async def test_stale_or_missing_pre_connect_audio_is_not_waited_for() -> None:
    recorder = Recorder()
    options = AudioInputOptions(noise_cancellation=recorder, pre_connect_audio_timeout=0.5)
    s = await start(RoomOptions(audio_input=options))
    user_room = s.hub.room()
    await user_room.connect(f"memory://{ROOM}", s.hub.token(ROOM, "alice"))
    writer = await user_room.local_participant.stream_bytes(
        "b", topic="lk.agent.pre-connect-audio-buffer", attributes={"sampleRate": "16000"}
    )
    await writer.write(b"\x10\x27" * 1600)  # never closed: the link must not wait for ever
    await asyncio.sleep(1.0)
    source = rtc.AudioSource(48000, 1)
    await user_room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("mic", source)
    )
    await settle()
    for _ in range(5):
        await source.capture_frame(AudioFrame.create(48000, 1, 960))
    await asyncio.sleep(0.2)
    assert recorder.frames and all(not f.data.any() for f in recorder.frames)
    await source.aclose()
    await user_room.disconnect()
    await s.aclose()


# ------------------------------------------------------------------ video in


@pytest.mark.virtual_time
async def test_video_input_reads_the_linked_camera() -> None:
    s = await start(RoomOptions(video_input=True), before=[("alice", "standard")])
    video_in = s.session.input.video
    assert video_in is s.session.room_io.video_input
    cam = rtc.VideoSource(4, 2)
    await s.users[0].room.local_participant.publish_track(
        rtc.LocalVideoTrack.create_video_track("cam", cam),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA),
    )
    await settle()
    assert video_in.track is not None
    cam.capture_frame(VideoFrame(np.full((2, 4, 3), 7, np.uint8)))
    await settle()
    latest = s.session._latest_video_frame  # what the next user turn would carry
    assert latest is not None and latest.data[0, 0, 0] == 7
    await s.aclose()


# ------------------------------------------------------------------ custom RoomIO


@pytest.mark.virtual_time
async def test_custom_room_io_replaces_the_default() -> None:
    s = await start(start_session=False, before=[("alice", "standard")])
    room_io = RoomIO(s.session, s.agent_room, RoomOptions(text_output=False))
    await room_io.start()
    await s.session.start(Agent(instructions="x"))
    assert s.session.room_io is room_io
    assert room_io.linked_participant is not None
    assert s.session.output.transcription is None
    await s.aclose()

    s = await start(start_session=False)
    await RoomIO(s.session, s.agent_room).start()
    with pytest.raises(RuntimeError, match="already has a RoomIO"):
        await s.session.start(Agent(instructions="x"), room=s.agent_room)
    await s.session.room_io.aclose()
    await s.agent_room.disconnect()
