"""The TTS protocol: chunked synthesis of one text, and streaming synthesis of pushed text."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from .._exceptions import APIConnectionError, APIError, APITimeoutError
from .._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .._utils.aio import Chan, PushStream, SegmentEnd, cancel_and_wait
from ..audio import AudioFrame
from .timed import TimedString


@dataclass
class SynthesizedAudio:
    frame: AudioFrame
    request_id: str = ""
    segment_id: str = ""
    is_final: bool = False
    delta_text: str = ""
    timed_text: list[TimedString] = field(default_factory=list)
    """Word timings (seconds from the segment's start) for TTSes with aligned transcripts."""


TIMED_TRANSCRIPT_KEY = "voxline.timed_transcript"
"""Where `tts_node` puts a frame's word timings: `frame.userdata[TIMED_TRANSCRIPT_KEY]`."""


@dataclass(frozen=True)
class TTSCapabilities:
    streaming: bool
    aligned_transcript: bool = False


class TTSError(BaseModel):
    """Payload of the session's `error` event when the TTS fails."""

    model_config = {"arbitrary_types_allowed": True}
    type: Literal["tts_error"] = "tts_error"
    timestamp: float
    label: str
    error: Exception = Field(exclude=True)
    recoverable: bool


class TTS(ABC):
    def __init__(
        self, *, capabilities: TTSCapabilities, sample_rate: int, num_channels: int
    ) -> None:
        self._capabilities = capabilities
        self._sample_rate = sample_rate
        self._num_channels = num_channels

    @property
    def capabilities(self) -> TTSCapabilities:
        return self._capabilities

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    @property
    def label(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}"

    @property
    def model(self) -> str:
        return "unknown"

    @abstractmethod
    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream: ...

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        raise NotImplementedError(
            f"{self.label} is not a streaming TTS; wrap it in tts.StreamAdapter(tts=...)"
        )

    def prewarm(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class ChunkedStream(ABC):
    """Audio for one complete text. Retried as a whole if it fails before any audio."""

    def __init__(self, tts: TTS, text: str, *, conn_options: APIConnectOptions) -> None:
        self._tts = tts
        self._text = text
        self._conn_options = conn_options
        self._chan: Chan[SynthesizedAudio] = Chan()
        self._task: asyncio.Task[None] | None = None
        self._emitted = False

    @property
    def input_text(self) -> str:
        return self._text

    @abstractmethod
    async def _run(self) -> None:
        """Emit audio with `self._emit(frame)`."""

    def _emit(self, frame: AudioFrame) -> None:
        self._emitted = True
        self._chan.send_nowait(SynthesizedAudio(frame=frame))

    async def _main(self) -> None:
        try:
            for attempt in range(self._conn_options.max_retry + 1):
                try:
                    await asyncio.wait_for(self._run(), self._conn_options.timeout)
                    return
                except asyncio.TimeoutError:
                    err: APIError = APITimeoutError(f"{self._tts.label}: synthesis timed out")
                except APIError as e:
                    err = e
                except Exception as e:
                    raise APIConnectionError(f"{self._tts.label}: {e!r}", retryable=False) from e
                if self._emitted or not err.retryable or attempt >= self._conn_options.max_retry:
                    raise err
                await asyncio.sleep(self._conn_options.interval_for_retry(attempt))
        finally:
            self._chan.close()

    def __aiter__(self) -> AsyncIterator[SynthesizedAudio]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._main())
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[SynthesizedAudio]:
        assert self._task is not None
        async for item in self._chan:
            yield item
        await self._task

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)


class SynthesizeStream(PushStream["str | SegmentEnd", SynthesizedAudio]):
    """Text pushed in pieces; `flush()` ends a segment; audio streams out as it is ready."""

    FLUSH = SegmentEnd()

    def __init__(self, tts: TTS, *, conn_options: APIConnectOptions) -> None:
        super().__init__()
        self._tts = tts
        self._conn_options = conn_options

    def push_text(self, text: str) -> None:
        if text:
            self._push(text)

    def flush(self) -> None:
        self._push(self.FLUSH)

    def end_input(self) -> None:
        self.flush()
        super().end_input()
