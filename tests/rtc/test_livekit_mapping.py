"""Pure conversions between the LiveKit SDK and voxline's room model, table by table."""

from __future__ import annotations

import numpy as np
import pytest
from livekit import rtc as lk

from rtc.livekit_support import publication_info, sdk_participant
from voxline.audio import AudioFrame
from voxline.rtc._types import (
    ConnectionState,
    DisconnectReason,
    ParticipantKind,
    TrackKind,
    TrackSource,
)
from voxline.rtc.livekit import _mapping as m
from voxline.rtc.rpc import RpcError
from voxline.video import VideoFrame

KINDS = [
    (lk.ParticipantKind.PARTICIPANT_KIND_STANDARD, ParticipantKind.STANDARD),
    (lk.ParticipantKind.PARTICIPANT_KIND_INGRESS, ParticipantKind.INGRESS),
    (lk.ParticipantKind.PARTICIPANT_KIND_EGRESS, ParticipantKind.EGRESS),
    (lk.ParticipantKind.PARTICIPANT_KIND_SIP, ParticipantKind.SIP),
    (lk.ParticipantKind.PARTICIPANT_KIND_AGENT, ParticipantKind.AGENT),
    (lk.ParticipantKind.PARTICIPANT_KIND_CONNECTOR, ParticipantKind.CONNECTOR),
    (lk.ParticipantKind.PARTICIPANT_KIND_BRIDGE, ParticipantKind.BRIDGE),
]

REASONS = [
    (lk.DisconnectReason.UNKNOWN_REASON, DisconnectReason.UNKNOWN_REASON),
    (lk.DisconnectReason.CLIENT_INITIATED, DisconnectReason.CLIENT_INITIATED),
    (lk.DisconnectReason.DUPLICATE_IDENTITY, DisconnectReason.DUPLICATE_IDENTITY),
    (lk.DisconnectReason.SERVER_SHUTDOWN, DisconnectReason.SERVER_SHUTDOWN),
    (lk.DisconnectReason.PARTICIPANT_REMOVED, DisconnectReason.PARTICIPANT_REMOVED),
    (lk.DisconnectReason.ROOM_DELETED, DisconnectReason.ROOM_DELETED),
    (lk.DisconnectReason.STATE_MISMATCH, DisconnectReason.STATE_MISMATCH),
    (lk.DisconnectReason.JOIN_FAILURE, DisconnectReason.JOIN_FAILURE),
    (lk.DisconnectReason.MIGRATION, DisconnectReason.MIGRATION),
    (lk.DisconnectReason.SIGNAL_CLOSE, DisconnectReason.SIGNAL_CLOSE),
    (lk.DisconnectReason.ROOM_CLOSED, DisconnectReason.ROOM_CLOSED),
    (lk.DisconnectReason.USER_UNAVAILABLE, DisconnectReason.USER_UNAVAILABLE),
    (lk.DisconnectReason.USER_REJECTED, DisconnectReason.USER_REJECTED),
    (lk.DisconnectReason.SIP_TRUNK_FAILURE, DisconnectReason.SIP_TRUNK_FAILURE),
    (lk.DisconnectReason.CONNECTION_TIMEOUT, DisconnectReason.CONNECTION_TIMEOUT),
    (lk.DisconnectReason.MEDIA_FAILURE, DisconnectReason.MEDIA_FAILURE),
    (lk.DisconnectReason.AGENT_ERROR, DisconnectReason.AGENT_ERROR),
]

SOURCES = [
    (lk.TrackSource.SOURCE_UNKNOWN, TrackSource.SOURCE_UNKNOWN),
    (lk.TrackSource.SOURCE_CAMERA, TrackSource.SOURCE_CAMERA),
    (lk.TrackSource.SOURCE_MICROPHONE, TrackSource.SOURCE_MICROPHONE),
    (lk.TrackSource.SOURCE_SCREENSHARE, TrackSource.SOURCE_SCREENSHARE),
    (lk.TrackSource.SOURCE_SCREENSHARE_AUDIO, TrackSource.SOURCE_SCREENSHARE_AUDIO),
]


@pytest.mark.parametrize(("sdk", "ours"), KINDS)
def test_participant_kinds_map_both_ways(sdk: int, ours: ParticipantKind) -> None:
    assert m.kind_from_sdk(sdk) is ours
    assert m.kind_to_sdk(ours) == sdk
    # The seed's selector compares a voxline kind with either spelling.
    assert ours == sdk


def test_every_sdk_kind_and_reason_is_in_the_tables() -> None:
    assert {v for _, v in lk.ParticipantKind.items()} == {sdk for sdk, _ in KINDS}
    assert {v for _, v in lk.DisconnectReason.items()} == {sdk for sdk, _ in REASONS}
    assert set(DisconnectReason) == {ours for _, ours in REASONS}


def test_an_unknown_kind_is_a_standard_participant() -> None:
    assert m.kind_from_sdk(99) is ParticipantKind.STANDARD


@pytest.mark.parametrize(("sdk", "ours"), REASONS)
def test_disconnect_reasons_map_both_ways(sdk: int, ours: DisconnectReason) -> None:
    assert m.reason_from_sdk(sdk) is ours
    assert m.reason_to_sdk(ours) == sdk


def test_an_unknown_reason_is_unknown() -> None:
    assert m.reason_from_sdk(1234) is DisconnectReason.UNKNOWN_REASON


@pytest.mark.parametrize(("sdk", "ours"), SOURCES)
def test_track_sources_map_both_ways(sdk: int, ours: TrackSource) -> None:
    assert m.source_from_sdk(sdk) is ours
    assert m.source_to_sdk(ours) == sdk


@pytest.mark.parametrize(
    ("sdk", "ours"),
    [
        (lk.TrackKind.KIND_UNKNOWN, TrackKind.KIND_UNKNOWN),
        (lk.TrackKind.KIND_AUDIO, TrackKind.KIND_AUDIO),
        (lk.TrackKind.KIND_VIDEO, TrackKind.KIND_VIDEO),
        (42, TrackKind.KIND_UNKNOWN),
    ],
)
def test_track_kinds(sdk: int, ours: TrackKind) -> None:
    assert m.track_kind_from_sdk(sdk) is ours


@pytest.mark.parametrize(
    ("sdk", "ours"),
    [
        (lk.ConnectionState.CONN_DISCONNECTED, ConnectionState.CONN_DISCONNECTED),
        (lk.ConnectionState.CONN_CONNECTED, ConnectionState.CONN_CONNECTED),
        (lk.ConnectionState.CONN_RECONNECTING, ConnectionState.CONN_RECONNECTING),
    ],
)
def test_connection_states(sdk: int, ours: ConnectionState) -> None:
    assert m.connection_state_from_sdk(sdk) is ours


def test_participant_info_carries_identity_kind_attributes_and_tracks() -> None:
    participant = sdk_participant(
        "caller-1",
        kind=lk.ParticipantKind.PARTICIPANT_KIND_SIP,
        attributes={"sip.phoneNumber": "+15550100"},
        metadata='{"plan": "pro"}',
        name="Caller",
        publications=[publication_info("TR_a", muted=True)],
    )
    info = m.participant_info(participant)
    assert (info.identity, info.name, info.kind, info.sid) == (
        "caller-1",
        "Caller",
        ParticipantKind.SIP,
        "PA_caller-1",
    )
    assert info.metadata == '{"plan": "pro"}'
    assert info.attributes == {"sip.phoneNumber": "+15550100"}
    (track,) = info.tracks
    assert (track.sid, track.name, track.kind, track.source, track.muted, track.subscribed) == (
        "TR_a",
        "microphone",
        TrackKind.KIND_AUDIO,
        TrackSource.SOURCE_MICROPHONE,
        True,
        False,
    )
    assert m.participant_info(participant, with_tracks=False).tracks == []


def test_stream_headers_from_the_sdk_infos() -> None:
    text = lk.TextStreamInfo(
        stream_id="ST_1",
        mime_type="text/plain",
        topic="lk.transcription",
        timestamp=1700000000000,
        size=0,
        attributes={"lk.segment_id": "SG_1", "lk.transcription_final": "false"},
        attachments=[],
    )
    header = m.stream_header(text, "text", "user-1")
    assert (header.stream_id, header.kind, header.topic, header.timestamp) == (
        "ST_1",
        "text",
        "lk.transcription",
        1700000000000,
    )
    assert header.attributes["lk.segment_id"] == "SG_1"
    assert header.total_size is None  # the SDK reports 0 for "unknown"
    assert header.sender_identity == "user-1"
    data = lk.ByteStreamInfo(
        stream_id="ST_2",
        mime_type="image/png",
        topic="images",
        timestamp=1,
        size=2048,
        attributes={},
        name="photo.png",
    )
    byte_header = m.stream_header(data, "byte", "user-1")
    assert (byte_header.kind, byte_header.name, byte_header.total_size) == (
        "byte",
        "photo.png",
        2048,
    )


@pytest.mark.parametrize("code", list(RpcError.ErrorCode))
def test_rpc_errors_map_both_ways(code: RpcError.ErrorCode) -> None:
    ours = RpcError(code, "went wrong", "details")
    theirs = m.rpc_error_to_sdk(ours)
    assert (theirs.code, theirs.message, theirs.data) == (int(code), "went wrong", "details")
    back = m.rpc_error_from_sdk(theirs)
    assert (back.code, back.message, back.data) == (int(code), "went wrong", "details")


def test_rpc_invocation_data() -> None:
    data = lk.RpcInvocationData(
        request_id="RQ_1",
        caller_identity="user-1",
        payload='{"x": 1}',
        response_timeout=7.5,
        method="get_weather",
    )
    ours = m.rpc_data_from_sdk(data)
    assert (ours.request_id, ours.caller_identity, ours.payload, ours.method) == (
        "RQ_1",
        "user-1",
        '{"x": 1}',
        "get_weather",
    )
    assert ours.response_timeout == 7.5


def test_audio_frames_round_trip_and_are_copied() -> None:
    pcm = (np.arange(960, dtype=np.int16) * 7).astype(np.int16)
    frame = AudioFrame(pcm, 48000, 2, 480)
    sdk = m.audio_frame_to_sdk(frame)
    assert (sdk.sample_rate, sdk.num_channels, sdk.samples_per_channel) == (48000, 2, 480)
    back = m.audio_frame_from_sdk(sdk)
    assert np.array_equal(back.data, pcm)
    reused = lk.AudioFrame(bytearray(pcm.tobytes()), 48000, 2, 480)
    received = m.audio_frame_from_sdk(reused)
    reused.data[0] = 12345  # the SDK reusing its buffer must not change our frame
    assert received.data[0] == 0


def test_video_frames_round_trip_through_rgba() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    sdk = m.video_frame_to_sdk(VideoFrame(pixels, timestamp=1.5))
    assert (sdk.width, sdk.height, sdk.type) == (64, 48, lk.VideoBufferType.RGBA)
    back = m.video_frame_from_sdk(sdk, timestamp=1.5)
    assert np.array_equal(back.data, pixels)
    assert back.timestamp == 1.5
    bgra = np.concatenate([pixels[:, :, ::-1], np.full((48, 64, 1), 255, np.uint8)], axis=2)
    sdk_bgra = lk.VideoFrame(64, 48, lk.VideoBufferType.BGRA, bgra.tobytes())
    assert np.array_equal(m.video_frame_from_sdk(sdk_bgra).data, pixels)


def test_decoded_yuv_video_is_converted_by_the_sdk() -> None:
    gray = np.full((16, 16, 3), 128, dtype=np.uint8)
    i420 = m.video_frame_to_sdk(VideoFrame(gray)).convert(lk.VideoBufferType.I420)
    back = m.video_frame_from_sdk(i420)
    assert back.data.shape == (16, 16, 3)
    assert np.abs(back.data.astype(int) - 128).max() <= 3


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wss://demo.livekit.cloud", "https://demo.livekit.cloud"),
        ("ws://127.0.0.1:7880", "http://127.0.0.1:7880"),
        ("ws://127.0.0.1:7880/", "http://127.0.0.1:7880"),
        ("https://lk.example.com/base", "https://lk.example.com/base"),
    ],
)
def test_api_url(url: str, expected: str) -> None:
    assert m.api_url(url) == expected


def test_api_url_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="ws://, wss://"):
        m.api_url("memory://room")
