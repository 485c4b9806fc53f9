"""The STT protocol: audio in, speech events out (start, interim, preflight, final, end)."""

from __future__ import annotations

import asyncio
import enum
from abc import ABC
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from .._exceptions import APIConnectionError, APIError, APITimeoutError
from .._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .._utils.aio import PushStream, SegmentEnd
from ..audio import AudioFrame


class SpeechEventType(str, enum.Enum):
    START_OF_SPEECH = "start_of_speech"
    INTERIM_TRANSCRIPT = "interim_transcript"
    PREFLIGHT_TRANSCRIPT = "preflight_transcript"
    FINAL_TRANSCRIPT = "final_transcript"
    END_OF_SPEECH = "end_of_speech"
    RECOGNITION_USAGE = "recognition_usage"


@dataclass
class SpeechData:
    language: str
    text: str
    start_time: float = 0.0
    end_time: float = 0.0
    confidence: float = 0.0
    speaker_id: str | None = None


@dataclass
class SpeechEvent:
    type: SpeechEventType
    alternatives: list[SpeechData] = field(default_factory=list)
    request_id: str = ""

    @property
    def text(self) -> str:
        return self.alternatives[0].text if self.alternatives else ""


@dataclass(frozen=True)
class STTCapabilities:
    streaming: bool
    interim_results: bool


class STTError(BaseModel):
    """Payload of the session's `error` event when the STT fails."""

    model_config = {"arbitrary_types_allowed": True}
    type: Literal["stt_error"] = "stt_error"
    timestamp: float
    label: str
    error: Exception = Field(exclude=True)
    recoverable: bool


class STT(ABC):
    def __init__(self, *, capabilities: STTCapabilities) -> None:
        self._capabilities = capabilities

    @property
    def capabilities(self) -> STTCapabilities:
        return self._capabilities

    @property
    def label(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}"

    @property
    def model(self) -> str:
        return "unknown"

    def prewarm(self) -> None:
        """Load weights or open connections ahead of the first utterance (optional; the
        session calls it at start, and it must return at once)."""

    async def _recognize_impl(
        self, buffer: Sequence[AudioFrame], *, language: str | None, conn_options: APIConnectOptions
    ) -> SpeechEvent:
        raise NotImplementedError(f"{self.label} does not support batch recognition")

    async def recognize(
        self,
        buffer: Sequence[AudioFrame],
        *,
        language: str | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> SpeechEvent:
        """Batch recognition with the retry policy of `conn_options`."""
        for attempt in range(conn_options.max_retry + 1):
            try:
                return await asyncio.wait_for(
                    self._recognize_impl(buffer, language=language, conn_options=conn_options),
                    conn_options.timeout,
                )
            except asyncio.TimeoutError:
                err: APIError = APITimeoutError(f"{self.label}: timed out")
            except APIError as e:
                err = e
            except Exception as e:
                raise APIConnectionError(f"{self.label}: {e!r}", retryable=False) from e
            if not err.retryable or attempt >= conn_options.max_retry:
                raise err
            await asyncio.sleep(conn_options.interval_for_retry(attempt))
        raise AssertionError("unreachable")

    def stream(
        self,
        *,
        language: str | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> RecognizeStream:
        raise NotImplementedError(
            f"{self.label} is not a streaming STT; wrap it in stt.StreamAdapter(stt, vad)"
        )

    async def aclose(self) -> None:
        return None


class RecognizeStream(PushStream["AudioFrame | SegmentEnd", SpeechEvent]):
    """Push frames in, iterate speech events out. Subclasses implement `_run(frames)`."""

    FLUSH = SegmentEnd()

    def __init__(self, stt: STT, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS):
        super().__init__()
        self._stt = stt
        self._conn_options = conn_options

    def push_frame(self, frame: AudioFrame) -> None:
        self._push(frame)

    def flush(self) -> None:
        self._push(self.FLUSH)
