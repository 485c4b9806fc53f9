"""The agent's voice and transcript in the room.

Audio goes to a published track through an `AudioSource` with a 200 ms queue: the source
plays in real time, so what is queued is what has not been heard, and `clear_buffer` reports
exactly how much of a segment played. Transcripts go out as one `lk.transcription` text
stream per segment (delta writes; `lk.transcription_final` turns "true" in the trailer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..._utils.aio import Chan, TaskSet, cancel_and_wait, short_id
from ...audio import AudioFrame, remix_channels
from ...rtc import AudioSource, LocalAudioTrack, Room, TextStreamWriter
from ..io import AudioOutput, TextOutput
from .types import (
    ATTRIBUTE_SEGMENT_ID,
    ATTRIBUTE_TRANSCRIBED_TRACK_ID,
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    TOPIC_TRANSCRIPTION,
    AudioOutputOptions,
)

logger = logging.getLogger("voxline.room_io")

_QUEUE_MS = 200
"""Small on purpose: an interruption drops at most this much queued audio."""


class RoomAudioOutput(AudioOutput):
    def __init__(self, room: Room, options: AudioOutputOptions) -> None:
        super().__init__(sample_rate=options.sample_rate, can_pause=False)
        self._room = room
        self._options = options
        self._source = AudioSource(options.sample_rate, options.num_channels, _QUEUE_MS)
        self._track = LocalAudioTrack.create_audio_track(options.track_name, self._source)
        self._pushed = 0.0
        self._in_segment = False
        self._flushed = False
        self._playout_task: asyncio.Task[None] | None = None

    @property
    def track(self) -> LocalAudioTrack:
        return self._track

    @property
    def track_sid(self) -> str:
        return self._track.sid

    @property
    def playing(self) -> bool:
        return self._in_segment

    async def start(self) -> None:
        await self._room.local_participant.publish_track(
            self._track, self._options.track_publish_options
        )

    async def capture_frame(self, frame: AudioFrame) -> None:
        await super().capture_frame(frame)
        if frame.num_channels != self._options.num_channels:
            frame = remix_channels(frame, self._options.num_channels)
        if not self._in_segment:
            self._in_segment = True
            self._flushed = False
            self._pushed = 0.0
            self.on_playback_started()
        self._pushed += frame.duration
        await self._source.capture_frame(frame)

    def flush(self) -> None:
        if not self._in_segment or self._flushed:
            return
        self._flushed = True
        self._playout_task = asyncio.get_running_loop().create_task(
            self._wait_playout(), name="room_audio_playout"
        )

    async def _wait_playout(self) -> None:
        await self._source.wait_for_playout()
        self._playout_task = None
        self._finish(self._pushed, interrupted=False)

    def clear_buffer(self) -> None:
        if not self._in_segment:
            return
        played = max(0.0, self._pushed - self._source.queued_duration)
        self._source.clear_queue()
        if self._playout_task is not None:
            self._playout_task.cancel()
            self._playout_task = None
        self._finish(played, interrupted=True)

    def _finish(self, position: float, *, interrupted: bool) -> None:
        if not self._in_segment:
            return
        self._in_segment = False
        self.on_playback_finished(playback_position=position, interrupted=interrupted)

    async def aclose(self) -> None:
        self.clear_buffer()
        await cancel_and_wait(self._playout_task)
        if self._room.isconnected():
            for sid, pub in self._room.local_participant.track_publications.items():
                if pub.track is self._track:
                    try:
                        await self._room.local_participant.unpublish_track(sid)
                    except Exception:
                        logger.warning("could not unpublish the agent's audio track", exc_info=True)
        await self._source.aclose()


class OrderedSender:
    """Runs room writes one after the other in a task of its own, so synchronous event
    handlers (state changes, transcripts) can send without awaiting and without
    reordering."""

    def __init__(self) -> None:
        self._queue: Chan[Callable[[], Awaitable[None]]] = Chan()
        self._task: asyncio.Task[None] | None = None

    def send(self, job: Callable[[], Awaitable[None]]) -> None:
        if self._queue.closed:
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="room_sender")
        self._queue.send_nowait(job)

    async def _run(self) -> None:
        async for job in self._queue:
            try:
                await job()
            except Exception as e:
                logger.warning("could not send to the room: %s", e)

    async def aclose(self, *, drain_timeout: float = 1.0) -> None:
        """Send what is queued (bounded by `drain_timeout`), then stop."""
        self._queue.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), drain_timeout)
            except asyncio.TimeoutError:
                pass
            await cancel_and_wait(self._task)


class RoomTranscriptionOutput(TextOutput):
    """The agent's transcript: one delta stream per segment on `lk.transcription`."""

    def __init__(self, room: Room, *, track_sid: Callable[[], str | None]) -> None:
        self._room = room
        self._track_sid = track_sid
        self._writer: TextStreamWriter | None = None
        self._tasks = TaskSet()

    async def capture_text(self, text: str) -> None:
        try:
            if self._writer is None:
                attributes = {
                    ATTRIBUTE_SEGMENT_ID: short_id("SG"),
                    ATTRIBUTE_TRANSCRIPTION_FINAL: "false",
                }
                sid = self._track_sid()
                if sid:
                    attributes[ATTRIBUTE_TRANSCRIBED_TRACK_ID] = sid
                self._writer = await self._room.local_participant.stream_text(
                    topic=TOPIC_TRANSCRIPTION, attributes=attributes
                )
            await self._writer.write(text)
        except Exception as e:  # a transcript that cannot be sent must not stop the reply
            logger.warning("could not send the agent transcript: %s", e)

    def flush(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            self._tasks.create(_close(writer), name="transcript_close")

    async def aclose(self) -> None:
        self.flush()
        tasks = self._tasks.tasks
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        await self._tasks.aclose()


async def _close(writer: TextStreamWriter) -> None:
    try:
        await writer.aclose(attributes={ATTRIBUTE_TRANSCRIPTION_FINAL: "true"})
    except Exception as e:
        logger.warning("could not close a transcript stream: %s", e)
