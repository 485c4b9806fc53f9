"""The local microphone and speaker through `sounddevice` (PortAudio), when there are any.

`sounddevice` is optional and imported only when a device is actually opened: importing it
fails without the PortAudio library (servers, CI, containers), and the console must still
work there with WAV files or text.

PortAudio calls back on its own thread; everything crossing to the event loop goes through
`loop.call_soon_threadsafe`, and the playout state shared with the callback is guarded by a
lock. The speaker's playout clock is the device itself: a segment has started when its first
sample went to the device, and is finished when the device took its last one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..audio import AudioFrame, AudioResampler, combine_frames, remix_channels
from ..voice.io import AudioInput, AudioOutput

__all__ = [
    "SoundDeviceAudioInput",
    "SoundDeviceAudioOutput",
    "SoundDeviceUnavailableError",
    "describe_sound_devices",
    "has_sound_device",
]

logger = logging.getLogger("voxline.console")

DeviceKind = Literal["input", "output", "duplex"]


class SoundDeviceUnavailableError(RuntimeError):
    """`sounddevice` is not installed, PortAudio is missing, or there is no such device."""


def _import_sounddevice() -> Any:
    try:
        import sounddevice  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except Exception as e:  # ImportError, or OSError when PortAudio is missing
        raise SoundDeviceUnavailableError(
            f"sounddevice is not usable ({type(e).__name__}: {e}); "
            "install it with `pip install sounddevice` and the PortAudio library"
        ) from e
    return sounddevice


def sound_device_problem(kind: DeviceKind = "duplex") -> str | None:
    """Why there is no usable sound device of `kind`, or None when there is one."""
    try:
        sd = _import_sounddevice()
        kinds = ("input", "output") if kind == "duplex" else (kind,)
        for k in kinds:
            info = sd.query_devices(kind=k)
            channels = info.get("max_input_channels" if k == "input" else "max_output_channels")
            if not channels:
                return f"no default {k} device"
    except SoundDeviceUnavailableError as e:
        return str(e)
    except Exception as e:
        return f"no default sound device ({type(e).__name__}: {e})"
    return None


def has_sound_device(kind: DeviceKind = "duplex") -> bool:
    """True when `sounddevice` works and a default device of `kind` exists. Never raises."""
    try:
        return sound_device_problem(kind) is None
    except Exception:  # a probe must never take the CLI down
        return False


def describe_sound_devices() -> str:
    """The device list as `sounddevice` prints it, or why there is none. Never raises."""
    try:
        return str(_import_sounddevice().query_devices())
    except Exception as e:
        return f"no sound devices: {e}"


class SoundDeviceAudioInput(AudioInput):
    """The default (or a chosen) microphone, as frames of `frame_ms`.

    The device callback queues frames for the loop; when the session falls behind, the oldest
    frames are dropped (`max_queued`), because late microphone audio is worse than lost audio
    for turn-taking.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 24000,
        num_channels: int = 1,
        frame_ms: float = 20,
        device: int | str | None = None,
        max_queued: int = 50,
    ) -> None:
        self._rate = sample_rate
        self._channels = num_channels
        self._frame_samples = max(1, round(sample_rate * frame_ms / 1000))
        self._device = device
        self._max_queued = max_queued
        self.dropped_frames = 0

    @property
    def sample_rate(self) -> int:
        return self._rate

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        sd = _import_sounddevice()
        loop = asyncio.get_running_loop()
        queue: deque[AudioFrame] = deque()
        wake = asyncio.Event()

        def deliver(frame: AudioFrame) -> None:
            if len(queue) >= self._max_queued:
                queue.popleft()
                self.dropped_frames += 1
            queue.append(frame)
            wake.set()

        def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            if status:
                logger.debug("microphone status: %s", status)
            pcm = np.array(indata, dtype=np.int16).reshape(-1)
            frame = AudioFrame(pcm, self._rate, self._channels, frames)
            try:
                loop.call_soon_threadsafe(deliver, frame)
            except RuntimeError:  # the loop is closed: the console is shutting down
                pass

        stream = sd.InputStream(
            samplerate=self._rate,
            channels=self._channels,
            dtype="int16",
            blocksize=self._frame_samples,
            device=self._device,
            callback=callback,
        )
        stream.start()
        try:
            while True:
                while not queue:
                    wake.clear()
                    await wake.wait()
                yield queue.popleft()
        finally:
            stream.stop()
            stream.close()


class SoundDeviceAudioOutput(AudioOutput):
    """The default (or a chosen) speaker, with honest playout reporting and pause/resume.

    The stream is opened at the first captured frame and plays silence between segments.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 24000,
        num_channels: int = 1,
        device: int | str | None = None,
        blocksize: int | None = None,
    ) -> None:
        super().__init__(sample_rate=sample_rate, can_pause=True)
        self._rate = sample_rate
        self._channels = num_channels
        self._device = device
        self._blocksize = blocksize if blocksize is not None else sample_rate // 100
        self._lock = threading.Lock()
        self._buffer: deque[npt.NDArray[np.int16]] = deque()
        self._buffered = 0  # samples per channel
        self._segment = 0  # id of the current segment, 0 when none
        self._next_segment = 1
        self._seg_started = False
        self._seg_played = 0
        self._seg_pushed = 0.0
        self._flushed = False
        self._paused = False
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resamplers: dict[int, AudioResampler] = {}

    @property
    def playing(self) -> bool:
        return self._segment != 0

    def _open(self) -> None:
        if self._stream is not None:
            return
        sd = _import_sounddevice()
        self._loop = asyncio.get_running_loop()
        self._stream = sd.OutputStream(
            samplerate=self._rate,
            channels=self._channels,
            dtype="int16",
            blocksize=self._blocksize,
            device=self._device,
            callback=self._callback,
        )
        self._stream.start()

    # ------------------------------------------------------------ device thread

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status:
            logger.debug("speaker status: %s", status)
        out = np.zeros((frames, self._channels), dtype=np.int16)
        started = finished = 0
        played = 0
        with self._lock:
            if self._segment and not self._paused:
                filled = 0
                while filled < frames and self._buffer:
                    head = self._buffer[0]
                    n = min(frames - filled, head.shape[0])
                    out[filled : filled + n] = head[:n]
                    if n == head.shape[0]:
                        self._buffer.popleft()
                    else:
                        self._buffer[0] = head[n:]
                    filled += n
                self._buffered -= filled
                self._seg_played += filled
                if filled and not self._seg_started:
                    self._seg_started = True
                    started = self._segment
                if self._flushed and self._buffered == 0:
                    finished, played = self._segment, self._seg_played
        outdata[:] = out
        if started:
            self._post(self._on_device_started, started)
        if finished:
            self._post(self._on_device_finished, finished, played)

    def _post(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed
            pass

    # ------------------------------------------------------------ loop thread

    def _on_device_started(self, segment: int) -> None:
        if segment == self._segment:
            self.on_playback_started()

    def _on_device_finished(self, segment: int, played: int) -> None:
        with self._lock:
            if segment != self._segment:
                return  # cleared meanwhile: already reported
            self._segment = 0
            pushed = self._seg_pushed
        self.on_playback_finished(playback_position=pushed, interrupted=False)

    def _convert(self, frame: AudioFrame) -> npt.NDArray[np.int16]:
        if frame.num_channels != self._channels:
            frame = remix_channels(frame, self._channels)
        if frame.sample_rate != self._rate:
            rs = self._resamplers.get(frame.sample_rate)
            if rs is None:
                rs = self._resamplers[frame.sample_rate] = AudioResampler(
                    frame.sample_rate, self._rate, num_channels=self._channels
                )
            out = rs.push(frame)
            if not out:
                return np.zeros((0, self._channels), dtype=np.int16)
            frame = combine_frames(out)
        return np.array(frame.data, dtype=np.int16).reshape(-1, self._channels)

    async def capture_frame(self, frame: AudioFrame) -> None:
        await super().capture_frame(frame)
        self._open()
        samples = self._convert(frame)
        with self._lock:
            if not self._segment:
                self._segment = self._next_segment
                self._next_segment += 1
                self._seg_started = False
                self._seg_played = 0
                self._seg_pushed = 0.0
                self._flushed = False
            self._seg_pushed += frame.duration
            if samples.shape[0]:
                self._buffer.append(samples)
                self._buffered += samples.shape[0]

    def flush(self) -> None:
        tail = [
            np.array(out.data, dtype=np.int16).reshape(-1, self._channels)
            for rs in self._resamplers.values()
            for out in rs.flush()
        ]
        with self._lock:
            if not self._segment:
                return
            for samples in tail:
                self._buffer.append(samples)
                self._buffered += samples.shape[0]
            self._flushed = True
            done = self._buffered == 0 and (self._seg_started or self._seg_pushed == 0)
            segment, played = self._segment, self._seg_played
        if done:
            self._on_device_finished(segment, played)

    def clear_buffer(self) -> None:
        with self._lock:
            if not self._segment:
                return
            self._segment = 0
            self._buffer.clear()
            self._buffered = 0
            position = min(self._seg_played / self._rate, self._seg_pushed)
        self.on_playback_finished(playback_position=position, interrupted=True)

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    async def aclose(self) -> None:
        self.clear_buffer()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()
