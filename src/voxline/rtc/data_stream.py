"""Text and byte streams: a header, chunks and a trailer, by topic, with attributes.

Writers chunk what they are given (at most `CHUNK_SIZE` bytes per chunk, text split on
character boundaries) and hand the chunks to the backend's `StreamSink`; readers are fed by
the room as the backend delivers header, chunks and trailer. Trailer attributes are merged
into the reader's `info.attributes`, which is how `lk.transcription_final` turns "true" when a
transcript segment ends.
"""

from __future__ import annotations

import asyncio
import codecs
import mimetypes
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from .._utils.aio import short_id

if TYPE_CHECKING:
    from ._backend import StreamSink

CHUNK_SIZE = 15_000

StreamKind = Literal["text", "byte"]


@dataclass
class StreamHeader:
    """What opens a stream on the wire (every backend carries these fields)."""

    stream_id: str
    kind: StreamKind
    topic: str
    timestamp: int
    """Milliseconds since the epoch, as LiveKit clients expect."""
    mime_type: str = "text/plain"
    attributes: dict[str, str] = field(default_factory=dict)
    total_size: int | None = None
    name: str = ""
    """File name of a byte stream."""
    sender_identity: str | None = None
    """Set when the stream is sent on behalf of another participant (user transcripts)."""
    reply_to_id: str | None = None


@dataclass
class _StreamInfo:
    stream_id: str
    mime_type: str
    topic: str
    timestamp: int
    size: int | None
    attributes: dict[str, str]

    @property
    def id(self) -> str:
        return self.stream_id


@dataclass
class TextStreamInfo(_StreamInfo):
    attachments: list[str] = field(default_factory=list)


@dataclass
class ByteStreamInfo(_StreamInfo):
    name: str = ""


def _info_from_header(header: StreamHeader) -> TextStreamInfo | ByteStreamInfo:
    common = {
        "stream_id": header.stream_id,
        "mime_type": header.mime_type,
        "topic": header.topic,
        "timestamp": header.timestamp,
        "size": header.total_size,
        "attributes": dict(header.attributes),
    }
    if header.kind == "text":
        return TextStreamInfo(**common)  # type: ignore[arg-type]
    return ByteStreamInfo(**common, name=header.name)  # type: ignore[arg-type]


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)  # wall clock: a timestamp for clients, not a duration


# ---------------------------------------------------------------------------------- readers


class StreamError(Exception):
    """A stream ended abnormally (its sender left, or it was closed with a reason)."""


class _StreamReader:
    """Chunks in arrival order; iteration ends at the trailer."""

    def __init__(self, header: StreamHeader, sender_identity: str) -> None:
        self._header = header
        self._sender = sender_identity
        self._chunks: deque[bytes] = deque()
        self._done = False
        self._error: str | None = None
        self._waiter: asyncio.Future[None] | None = None

    @property
    def participant_identity(self) -> str:
        return self._sender

    def _push(self, data: bytes) -> None:
        if not self._done:
            self._chunks.append(data)
            self._wake()

    def _close(self, reason: str = "", attributes: dict[str, str] | None = None) -> None:
        if self._done:
            return
        if attributes:
            self._info_attributes().update(attributes)
        self._done = True
        self._error = reason or None
        self._wake()

    def _info_attributes(self) -> dict[str, str]:
        raise NotImplementedError

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _next_chunk(self) -> bytes | None:
        while not self._chunks:
            if self._done:
                if self._error:
                    raise StreamError(f"stream {self._header.stream_id} ended: {self._error}")
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._chunks.popleft()


class TextStreamReader(_StreamReader):
    def __init__(self, header: StreamHeader, sender_identity: str) -> None:
        super().__init__(header, sender_identity)
        self._info = _info_from_header(header)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    @property
    def info(self) -> TextStreamInfo:
        assert isinstance(self._info, TextStreamInfo)
        return self._info

    def _info_attributes(self) -> dict[str, str]:
        return self._info.attributes

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        while True:
            chunk = await self._next_chunk()
            if chunk is None:
                tail = self._decoder.decode(b"", final=True)
                if tail:
                    yield tail
                return
            text = self._decoder.decode(chunk)
            if text:
                yield text

    async def read_all(self) -> str:
        return "".join([piece async for piece in self])


class ByteStreamReader(_StreamReader):
    def __init__(self, header: StreamHeader, sender_identity: str) -> None:
        super().__init__(header, sender_identity)
        self._info = _info_from_header(header)

    @property
    def info(self) -> ByteStreamInfo:
        assert isinstance(self._info, ByteStreamInfo)
        return self._info

    def _info_attributes(self) -> dict[str, str]:
        return self._info.attributes

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._next_chunk()
            if chunk is None:
                return
            yield chunk

    async def read_all(self) -> bytes:
        return b"".join([chunk async for chunk in self])


TextStreamHandler = Callable[[TextStreamReader, str], Awaitable[None] | None]
"""`handler(reader, participant_identity)`; a coroutine handler runs as a task of the room."""
ByteStreamHandler = Callable[[ByteStreamReader, str], Awaitable[None] | None]


# ---------------------------------------------------------------------------------- writers


class _Opener(Protocol):
    async def __call__(self, header: StreamHeader) -> StreamSink: ...


class _StreamWriter:
    def __init__(self, header: StreamHeader, opener: _Opener) -> None:
        self._header = header
        self._opener = opener
        self._sink: StreamSink | None = None
        self._closed = False
        self._lock = asyncio.Lock()

    async def _send(self, data: bytes) -> None:
        if self._closed:
            raise RuntimeError(f"stream {self._header.stream_id} is closed")
        async with self._lock:  # chunks stay in order when writes overlap
            if self._sink is None:
                self._sink = await self._opener(self._header)
            await self._sink.write(data)

    async def aclose(self, *, reason: str = "", attributes: dict[str, str] | None = None) -> None:
        """End the stream; `attributes` update the stream's attributes at the receivers."""
        if self._closed:
            return
        async with self._lock:
            if self._sink is None:
                self._sink = await self._opener(self._header)
            self._closed = True
            await self._sink.close(reason, dict(attributes or {}))


class TextStreamWriter(_StreamWriter):
    def __init__(self, header: StreamHeader, opener: _Opener) -> None:
        super().__init__(header, opener)
        self._info = _info_from_header(header)

    @property
    def info(self) -> TextStreamInfo:
        assert isinstance(self._info, TextStreamInfo)
        return self._info

    async def write(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"TextStreamWriter.write takes str, got {type(text).__name__}")
        for chunk in split_text(text, CHUNK_SIZE):
            await self._send(chunk)


class ByteStreamWriter(_StreamWriter):
    def __init__(self, header: StreamHeader, opener: _Opener) -> None:
        super().__init__(header, opener)
        self._info = _info_from_header(header)

    @property
    def info(self) -> ByteStreamInfo:
        assert isinstance(self._info, ByteStreamInfo)
        return self._info

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"ByteStreamWriter.write takes bytes, got {type(data).__name__}")
        view = bytes(data)
        for i in range(0, len(view), CHUNK_SIZE):
            await self._send(view[i : i + CHUNK_SIZE])


def split_text(text: str, max_bytes: int) -> list[bytes]:
    """UTF-8 chunks of at most `max_bytes`, never splitting a character."""
    data = text.encode()
    chunks: list[bytes] = []
    start = 0
    while start < len(data):
        end = min(start + max_bytes, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1  # back off a continuation byte: the cut falls between characters
        chunks.append(data[start:end])
        start = end
    return chunks


def new_header(
    kind: StreamKind,
    *,
    topic: str,
    attributes: dict[str, str] | None,
    stream_id: str | None,
    mime_type: str | None = None,
    total_size: int | None = None,
    name: str = "",
    sender_identity: str | None = None,
    reply_to_id: str | None = None,
) -> StreamHeader:
    for key, value in (attributes or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"stream attributes are str -> str, got {key!r}: {value!r}")
    return StreamHeader(
        stream_id=stream_id or short_id("ST"),
        kind=kind,
        topic=topic,
        timestamp=_now_ms(),
        mime_type=mime_type or ("text/plain" if kind == "text" else "application/octet-stream"),
        attributes=dict(attributes or {}),
        total_size=total_size,
        name=name,
        sender_identity=sender_identity,
        reply_to_id=reply_to_id,
    )


def guess_mime_type(path: str) -> str:
    mime, _ = mimetypes.guess_type(os.fspath(path))
    return mime or "application/octet-stream"
