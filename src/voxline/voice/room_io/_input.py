"""The linked participant's microphone (and camera) as the session's inputs.

The inputs live as long as the RoomIO; the participant behind them changes with
`set_participant()`. Each switch starts a new reader task on that participant's track and
stops the previous one, so the session's audio iterator never ends in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from ..._utils.aio import Chan, cancel_and_wait
from ...audio import AudioByteStream, AudioFrame, AudioResampler, remix_channels
from ...audio.processing import AudioProcessor
from ...rtc import (
    AudioStream,
    RemoteAudioTrack,
    RemoteParticipant,
    RemoteVideoTrack,
    VideoStream,
)
from ...video import VideoFrame
from ..io import AudioInput, VideoInput
from ._pre_connect import PreConnectAudio
from .types import AudioInputOptions, NoiseCancellationParams

logger = logging.getLogger("voxline.room_io")


class RoomAudioInput(AudioInput):
    def __init__(self, options: AudioInputOptions, pre_connect: PreConnectAudio | None) -> None:
        self._options = options
        self._pre_connect = pre_connect
        self._frames: Chan[AudioFrame] = Chan()
        self._task: asyncio.Task[None] | None = None
        self._track: RemoteAudioTrack | None = None
        self.participant_identity: str | None = None
        self.processor: AudioProcessor | None = None
        """The noise-cancellation processor in use for the current participant."""

    @property
    def track(self) -> RemoteAudioTrack | None:
        return self._track

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames.__aiter__()

    async def set_track(self, participant: RemoteParticipant, track: RemoteAudioTrack) -> None:
        if track is self._track:
            return
        await self.unset()
        self._track = track
        self.participant_identity = participant.identity
        self.processor = self._select_processor(participant, track)
        opts = self._options
        stream = AudioStream(
            track,
            sample_rate=opts.sample_rate,
            num_channels=opts.num_channels,
            frame_size_ms=opts.frame_size_ms,
        )  # created now: live frames queue up while the pre-connect buffer plays
        self._task = asyncio.get_running_loop().create_task(
            self._read(participant.identity, stream, self.processor), name="room_audio_input"
        )

    def _select_processor(
        self, participant: RemoteParticipant, track: RemoteAudioTrack
    ) -> AudioProcessor | None:
        nc = self._options.noise_cancellation
        if nc is None or isinstance(nc, AudioProcessor):
            return nc
        selected = nc(NoiseCancellationParams(participant=participant, track=track))
        if selected is not None and not isinstance(selected, AudioProcessor):
            raise TypeError(
                "the noise_cancellation selector must return an AudioProcessor or None, "
                f"got {type(selected).__name__}"
            )
        return selected

    async def _read(
        self, identity: str, stream: AudioStream, processor: AudioProcessor | None
    ) -> None:
        try:
            if self._pre_connect is not None:
                buffered = await self._pre_connect.take(identity)
                if buffered is not None:
                    for frame in _to_format(buffered, self._options):
                        self._push(frame, processor)
            async for ev in stream:
                self._push(ev.frame, processor)
        finally:
            await stream.aclose()

    def _push(self, frame: AudioFrame, processor: AudioProcessor | None) -> None:
        if processor is not None:
            frame = processor.process(frame)
            if frame.samples_per_channel == 0:
                return
        if not self._frames.closed:
            self._frames.send_nowait(frame)

    async def unset(self) -> None:
        """Stop listening to the current participant."""
        await cancel_and_wait(self._task)
        self._task = None
        self._track = None
        self.participant_identity = None
        processor, self.processor = self.processor, None
        if processor is not None and processor is not self._options.noise_cancellation:
            processor.close()  # a selector's processor belongs to this participant only

    async def aclose(self) -> None:
        await self.unset()
        nc = self._options.noise_cancellation
        if isinstance(nc, AudioProcessor):
            nc.close()
        self._frames.close()


def _to_format(frame: AudioFrame, options: AudioInputOptions) -> list[AudioFrame]:
    """A recorded buffer in the input's rate, channels and frame size."""
    if frame.num_channels != options.num_channels:
        frame = remix_channels(frame, options.num_channels)
    frames = [frame]
    if frame.sample_rate != options.sample_rate:
        resampler = AudioResampler(frame.sample_rate, options.sample_rate, options.num_channels)
        frames = resampler.push(frame) + resampler.flush()
    chunker = AudioByteStream(
        options.sample_rate,
        options.num_channels,
        options.sample_rate * options.frame_size_ms // 1000,
    )
    out: list[AudioFrame] = []
    for f in frames:
        out.extend(chunker.push(f))
    return out + chunker.flush()


class RoomVideoInput(VideoInput):
    def __init__(self) -> None:
        self._frames: Chan[VideoFrame] = Chan()
        self._task: asyncio.Task[None] | None = None
        self._track: RemoteVideoTrack | None = None

    @property
    def track(self) -> RemoteVideoTrack | None:
        return self._track

    def __aiter__(self) -> AsyncIterator[VideoFrame]:
        return self._frames.__aiter__()

    async def set_track(self, track: RemoteVideoTrack) -> None:
        if track is self._track:
            return
        await self.unset()
        self._track = track
        stream = VideoStream(track, capacity=2)  # only recent frames matter to a sampler
        self._task = asyncio.get_running_loop().create_task(
            self._read(stream), name="room_video_input"
        )

    async def _read(self, stream: VideoStream) -> None:
        try:
            async for ev in stream:
                if not self._frames.closed:
                    self._frames.send_nowait(ev.frame)
        finally:
            await stream.aclose()

    async def unset(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        self._track = None

    async def aclose(self) -> None:
        await self.unset()
        self._frames.close()
