"""`POST /rtc/webrtc/offer`: a participant over WebRTC (aiortc), for browsers.

Signalling is one HTTP round trip, non-trickle: the client gathers its ICE candidates, posts
`{"sdp", "type": "offer"}` with `Authorization: Bearer <token>`, and gets the answer. Audio
from the client is decoded from Opus and published to the room as a `microphone` track
(48 kHz mono); video as a `camera` track (decoded to RGB only while someone subscribes).
Everything the participant is subscribed to comes back mixed into one Opus track, so no
renegotiation is ever needed. The data channel the client opens (label `voxline`) carries
the same JSON messages as the WebSocket transport (see PROTOCOL.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from aiohttp import web

from .._utils.aio import now
from ..audio import AudioFrame, AudioResampler, remix_channels
from . import signalling
from .auth import JoinDenied, JoinGrant, authorize_request
from .rooms import (
    CLIENT_INITIATED,
    CONNECTION_TIMEOUT,
    SIGNAL_CLOSE,
    RoomError,
    ServerParticipant,
    ServerTrack,
)

if TYPE_CHECKING:
    import av
    from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection

    from .room_server import RoomServer

logger = logging.getLogger("voxline.server")

RATE = 48_000
PTIME = 0.020
SAMPLES = int(RATE * PTIME)
MAX_SOURCE_BUFFER = 2 * RATE
"""Per-source audio queued for the mix before the oldest is dropped (2 s)."""
TRIM_EVERY = 50
"""Mix ticks (20 ms each) between two checks of a source's standing delay."""
TRIM_TO = RATE // 200
"""What a standing delay is trimmed back to (5 ms)."""
MAX_PENDING_MESSAGES = 1000
VIDEO_MAX_FPS = 15.0


class _MixSource:
    """One subscribed track's audio on its way into the mix: resampled to 48 kHz mono and
    queued. It joins the mix once a whole packet is queued and pauses again on underrun,
    so a publisher's bursty delivery is smoothed instead of chopped.

    Every late packet would otherwise leave one more packet queued for good (the mix pulls
    at a fixed pace), so the delay would only grow. Once per second, the delay that stood
    all second long (the lowest queue level after a pull, when 10 ms or more) is trimmed
    back to 5 ms. This
    assumes senders pace their audio in real time, as `rtc.AudioSource` does."""

    __slots__ = ("buffer", "low", "primed", "pulls", "resampler", "trimmed")

    def __init__(self) -> None:
        self.buffer = np.zeros(0, dtype=np.int16)
        self.primed = False
        self.resampler: AudioResampler | None = None
        self.low = MAX_SOURCE_BUFFER
        self.pulls = 0
        self.trimmed = 0

    def push(self, frame: AudioFrame) -> None:
        if frame.num_channels != 1:
            frame = remix_channels(frame, 1)
        frames = [frame]
        if frame.sample_rate != RATE:
            if self.resampler is None or self.resampler.input_rate != frame.sample_rate:
                self.resampler = AudioResampler(frame.sample_rate, RATE, 1, quality="MQ")
            frames = self.resampler.push(frame)
        if not frames:
            return
        self.buffer = np.concatenate([self.buffer, *(f.data for f in frames)])
        if len(self.buffer) > MAX_SOURCE_BUFFER:
            self.buffer = self.buffer[-MAX_SOURCE_BUFFER:]

    def pull(self, n: int) -> npt.NDArray[np.int16] | None:
        if not self.primed:
            if len(self.buffer) < n:
                return None
            self.primed = True
        chunk = self.buffer[:n]
        self.buffer = self.buffer[n:]
        if len(chunk) < n:
            self.primed = False
        self._watch_delay()
        return chunk if len(chunk) else None

    def _watch_delay(self) -> None:
        self.low = min(self.low, len(self.buffer))
        self.pulls += 1
        if self.pulls < TRIM_EVERY:
            return
        if self.low >= SAMPLES // 2:  # 10 ms stood all second: not jitter
            excess = self.low - TRIM_TO
            self.buffer = self.buffer[excess:]
            self.trimmed += excess
        self.low = MAX_SOURCE_BUFFER
        self.pulls = 0


def _mix_track_class() -> type[Any]:
    """`RoomMixTrack`, built on first use so importing this module does not import aiortc."""
    from aiortc import MediaStreamTrack

    class RoomMixTrack(MediaStreamTrack):
        """The audio a WebRTC participant hears: every track it is subscribed to, summed,
        paced at 20 ms per packet by the loop clock."""

        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.sources: dict[str, _MixSource] = {}
            self._start: float | None = None
            self._count = 0

        def push(self, track_sid: str, frame: AudioFrame) -> None:
            source = self.sources.get(track_sid)
            if source is None:
                source = self.sources[track_sid] = _MixSource()
            source.push(frame)

        def remove(self, track_sid: str) -> None:
            self.sources.pop(track_sid, None)

        async def recv(self) -> av.AudioFrame:
            import av

            if self.readyState != "live":
                from aiortc.mediastreams import MediaStreamError

                raise MediaStreamError
            loop = asyncio.get_running_loop()
            if self._start is None:
                self._start = loop.time()
            wait = self._start + self._count * PTIME - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.5:  # stalled (e.g. a suspended loop): restart the clock
                self._start = loop.time()
                self._count = 0
            mix = np.zeros(SAMPLES, dtype=np.int32)
            for source in list(self.sources.values()):
                chunk = source.pull(SAMPLES)
                if chunk is not None:
                    mix[: len(chunk)] += chunk
            out = np.clip(mix, -32768, 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(out.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = RATE
            frame.pts = self._count * SAMPLES
            frame.time_base = fractions.Fraction(1, RATE)
            self._count += 1
            return frame

    return RoomMixTrack


class WebRtcConnection:
    """The room's side of one peer connection."""

    def __init__(self, server: RoomServer, pc: RTCPeerConnection, mixer: Any) -> None:
        self._server = server
        self.pc = pc
        self.mixer = mixer
        self._channel: RTCDataChannel | None = None
        self._pending: list[str] = []
        self.participant: asyncio.Future[ServerParticipant] = (
            asyncio.get_running_loop().create_future()
        )
        self.left = False

    def send_message(self, message: dict[str, Any]) -> None:
        if message["type"] == "track_unsubscribed":
            self.mixer.remove(message["track_sid"])
        text = json.dumps(message, separators=(",", ":"))
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            channel.send(text)
        elif len(self._pending) < MAX_PENDING_MESSAGES:
            self._pending.append(text)

    def send_audio(self, track: ServerTrack, frame: AudioFrame) -> None:
        self.mixer.push(track.sid, frame)

    def send_video(self, track: ServerTrack, rgb: npt.NDArray[np.uint8]) -> None:
        """Never called: WebRTC participants receive audio only (see `receives`)."""

    def close(self, reason: str) -> None:
        self.send_message({"type": "disconnected", "reason": reason})
        self.left = True
        self._server.tasks.create(self._close_soon(), name="webrtc_close")

    async def _close_soon(self) -> None:
        await asyncio.sleep(0.2)  # let the `disconnected` message reach the client
        await self.pc.close()

    def attach(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        pending, self._pending = self._pending, []
        for text in pending:
            channel.send(text)


def _bad_request(message: str) -> web.Response:
    return web.json_response({"code": "malformed", "msg": message}, status=400)


async def handle_offer(server: RoomServer, request: web.Request) -> web.Response:
    try:
        grant = authorize_request(
            server.api_key, server.api_secret, request, request.query.get("room")
        )
    except JoinDenied as e:
        return e.response()
    if server.closing:
        return web.json_response({"code": "unavailable", "msg": "server shutting down"}, status=503)
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _bad_request('the body must be JSON: {"sdp": ..., "type": "offer"}')
    if not isinstance(body, dict) or body.get("type") != "offer":
        return _bad_request('the body must be {"sdp": ..., "type": "offer"}')
    sdp = body.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        return _bad_request("the offer has no SDP")
    if "m=application" not in sdp:
        return _bad_request(
            "the offer has no data channel: create the 'voxline' channel before the offer"
        )
    return await _answer(server, grant, sdp)


async def _answer(server: RoomServer, grant: JoinGrant, sdp: str) -> web.Response:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    server.prepare_webrtc()
    pc = RTCPeerConnection()
    server.peer_connections.add(pc)
    mixer = _mix_track_class()()
    connection = WebRtcConnection(server, pc, mixer)
    _wire_events(server, pc, connection)
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if any(t.kind == "audio" for t in pc.getTransceivers()):
            pc.addTrack(mixer)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
    except Exception as e:  # aiortc's SDP parser fails with asserts, ValueErrors, ...
        await _discard(server, pc)
        return _bad_request(f"cannot answer this offer: {e}")
    try:
        participant = server.join(grant, connection, transport="webrtc", receives=("audio",))
    except RoomError as e:
        await _discard(server, pc)
        return web.json_response({"code": e.code, "msg": e.message}, status=409)
    connection.participant.set_result(participant)
    local = pc.localDescription
    return web.json_response(
        {
            "sdp": local.sdp,
            "type": local.type,
            "room": participant.room.name,
            "identity": participant.identity,
            "participant_sid": participant.sid,
        }
    )


async def _discard(server: RoomServer, pc: RTCPeerConnection) -> None:
    server.peer_connections.discard(pc)
    await pc.close()


def _wire_events(server: RoomServer, pc: RTCPeerConnection, connection: WebRtcConnection) -> None:
    @pc.on("datachannel")
    def on_datachannel(channel: RTCDataChannel) -> None:
        connection.attach(channel)

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            fut = connection.participant
            if not fut.done() or fut.cancelled():
                return
            p = fut.result()
            if isinstance(message, bytes):
                p.connection.send_message(
                    {"type": "error", "code": "malformed", "message": "send JSON text messages"}
                )
                return
            try:
                signalling.handle(server.hub, p, message)
            except signalling.ClientLeft:
                _leave(server, connection, CLIENT_INITIATED)

        @channel.on("close")
        def on_close() -> None:
            _leave(server, connection, SIGNAL_CLOSE)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        pump = _pump_audio if track.kind == "audio" else _pump_video
        server.tasks.create(pump(server, connection, track), name=f"webrtc_{track.kind}_in")

    @pc.on("connectionstatechange")
    async def on_state() -> None:
        state = pc.connectionState
        if state == "failed":
            _leave(server, connection, CONNECTION_TIMEOUT)
        elif state == "closed":
            _leave(server, connection, SIGNAL_CLOSE)


def _leave(server: RoomServer, connection: WebRtcConnection, reason: str) -> None:
    fut = connection.participant
    if fut.done() and not fut.cancelled():
        server.hub.leave(fut.result(), reason)
    if not connection.left:
        connection.left = True
        server.tasks.create(_discard(server, connection.pc), name="webrtc_close")


async def _published(
    server: RoomServer, connection: WebRtcConnection, kind: str
) -> tuple[ServerParticipant, ServerTrack | None]:
    p = await connection.participant
    try:
        if kind == "audio":
            track = server.hub.publish_track(
                p,
                name="microphone",
                kind="audio",
                source="microphone",
                sample_rate=RATE,
                num_channels=1,
            )
        else:
            track = server.hub.publish_track(p, name="camera", kind="video", source="camera")
    except RoomError as e:
        p.connection.send_message({"type": "error", "code": e.code, "message": e.message})
        return p, None
    return p, track


async def _pump_audio(
    server: RoomServer, connection: WebRtcConnection, track: MediaStreamTrack
) -> None:
    import av
    from aiortc.mediastreams import MediaStreamError

    p, published = await _published(server, connection, "audio")
    try:
        while True:
            frame = await track.recv()  # drained even when not publishable: aiortc queues
            if published is None or not p.connected or not isinstance(frame, av.AudioFrame):
                continue
            pcm = frame.to_ndarray().reshape(-1)
            channels = len(frame.layout.channels)
            if channels > 1:
                pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
            audio = AudioFrame(
                np.ascontiguousarray(pcm, dtype=np.int16), frame.sample_rate, 1, len(pcm)
            )
            with contextlib.suppress(RoomError):
                server.hub.route_audio(p, published.sid, audio)
    except MediaStreamError:
        pass
    finally:
        if published is not None and p.connected and published.sid in p.tracks:
            server.hub.unpublish_track(p, published.sid)


async def _pump_video(
    server: RoomServer, connection: WebRtcConnection, track: MediaStreamTrack
) -> None:
    import av
    from aiortc.mediastreams import MediaStreamError

    p, published = await _published(server, connection, "video")
    last = -1.0
    try:
        while True:
            frame = await track.recv()
            if not isinstance(frame, av.VideoFrame):
                continue
            if published is None or not server.hub.wants_video(p, published.sid):
                continue
            t = now()
            if t - last < 1.0 / VIDEO_MAX_FPS:
                continue
            last = t
            rgb = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            with contextlib.suppress(RoomError):
                server.hub.route_video(p, published.sid, rgb)
    except MediaStreamError:
        pass
    finally:
        if published is not None and p.connected and published.sid in p.tracks:
            server.hub.unpublish_track(p, published.sid)
