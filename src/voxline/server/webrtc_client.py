"""A WebRTC participant in Python (aiortc), doing what the playground page does: offer with a
microphone track and the `voxline` data channel, post it to `/rtc/webrtc/offer`, play the
room's mixed audio. Used by tests and `benchmarks/webrtc_path.py` to stand in for a browser.

The microphone plays `PcmSource` samples (48 kHz mono int16) in real time, then silence; every
received 20 ms frame is kept with its arrival time on the loop clock, so latency and content
can be checked against what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
from collections import deque
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt

from .._utils.aio import TaskSet

RATE = 48_000
SAMPLES = 960


class WebRtcError(RuntimeError):
    """The server refused the offer; the message is the server's."""


def _source_track_class() -> type[Any]:
    from aiortc import MediaStreamTrack

    class PcmSource(MediaStreamTrack):
        """A microphone: queued samples, paced at 20 ms by the loop clock, then silence.
        `played_at[k]` is when the first frame of the k-th `play()` went to the encoder."""

        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.queue: deque[tuple[npt.NDArray[np.int16], bool]] = deque()
            self.played_at: list[float] = []
            self._start: float | None = None
            self._count = 0
            self._silence = np.zeros(SAMPLES, np.int16)

        def play(self, samples: npt.NDArray[np.int16]) -> None:
            for i in range(0, len(samples), SAMPLES):
                chunk = samples[i : i + SAMPLES]
                if len(chunk) < SAMPLES:
                    chunk = np.concatenate([chunk, np.zeros(SAMPLES - len(chunk), np.int16)])
                self.queue.append((chunk, i == 0))

        async def recv(self) -> Any:
            import av

            loop = asyncio.get_running_loop()
            if self._start is None:
                self._start = loop.time()
            wait = self._start + self._count * SAMPLES / RATE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            chunk, first = self.queue.popleft() if self.queue else (self._silence, False)
            if first:
                self.played_at.append(loop.time())
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = RATE
            frame.pts = self._count * SAMPLES
            frame.time_base = fractions.Fraction(1, RATE)
            self._count += 1
            return frame

    return PcmSource


def _camera_track_class() -> type[Any]:
    from aiortc import VideoStreamTrack

    class SolidCamera(VideoStreamTrack):
        """A camera filming one colour (`rgb`), 320x240 at aiortc's default 30 fps."""

        def __init__(self, rgb: tuple[int, int, int]) -> None:
            super().__init__()
            self.image = np.empty((240, 320, 3), np.uint8)
            self.image[:] = rgb

        async def recv(self) -> Any:
            import av

            pts, time_base = await self.next_timestamp()
            frame = av.VideoFrame.from_ndarray(self.image, format="rgb24")
            frame.pts = pts
            frame.time_base = time_base
            return frame

    return SolidCamera


class WebRtcParticipant:
    def __init__(self, http_url: str, token: str) -> None:
        self._url = http_url.rstrip("/") + "/rtc/webrtc/offer"
        self._token = token
        self.microphone: Any = None
        self.pc: Any = None
        self.channel: Any = None
        self.messages: list[dict[str, Any]] = []
        self.received: list[tuple[float, npt.NDArray[np.int16]]] = []
        """(arrival time on the loop clock, 20 ms of 48 kHz mono) per decoded frame."""
        self.answer: dict[str, Any] = {}
        self._tasks = TaskSet()
        self._changed = asyncio.Event()
        self._open = asyncio.Event()

    async def connect(
        self, *, with_microphone: bool = True, camera: tuple[int, int, int] | None = None
    ) -> None:
        """`camera`: also send video of this RGB colour."""
        from aiortc import RTCPeerConnection, RTCSessionDescription

        self.pc = pc = RTCPeerConnection()
        if with_microphone:
            self.microphone = _source_track_class()()
            pc.addTrack(self.microphone)
        else:
            pc.addTransceiver("audio", direction="recvonly")
        if camera is not None:
            pc.addTrack(_camera_track_class()(camera))
        self.channel = pc.createDataChannel("voxline")

        @self.channel.on("open")  # type: ignore[untyped-decorator]
        def on_open() -> None:
            self._open.set()

        @self.channel.on("message")  # type: ignore[untyped-decorator]
        def on_message(text: str | bytes) -> None:
            if isinstance(text, str):
                self.messages.append(json.loads(text))
                self._changed.set()

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                self._tasks.create(self._listen(track), name="webrtc_client_audio")

        await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate
        offer = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
        headers = {"Authorization": f"Bearer {self._token}"}
        async with aiohttp.ClientSession() as http:
            async with http.post(self._url, json=offer, headers=headers) as r:
                body = await r.json()
                if r.status != 200:
                    await pc.close()
                    raise WebRtcError(f"{r.status} {body.get('code')}: {body.get('msg')}")
        self.answer = body
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="answer"))
        await asyncio.wait_for(self._open.wait(), 10)

    async def _listen(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                pcm = frame.to_ndarray().reshape(-1)
                channels = len(frame.layout.channels)
                if channels > 1:
                    pcm = pcm.reshape(-1, channels)[:, 0]
                self.received.append((loop.time(), np.ascontiguousarray(pcm, np.int16)))

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send(json.dumps(message))

    async def wait(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                for m in self.messages:
                    if m.get("type") == kind and all(m.get(k) == v for k, v in match.items()):
                        return m
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)

    def received_pcm(self) -> npt.NDArray[np.int16]:
        if not self.received:
            return np.zeros(0, np.int16)
        return np.concatenate([pcm for _, pcm in self.received])

    async def leave(self) -> None:
        """Say goodbye (CLIENT_INITIATED), then close."""
        if self.channel is not None and self.channel.readyState == "open":
            self.send({"type": "leave"})
            await asyncio.sleep(0.05)
        await self.aclose()

    async def aclose(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        await self._tasks.aclose()
