"""The messages between the server process and its job hosts, and the channel they
travel on: length-prefixed pickles over one end of a socketpair.

A socketpair works the same between processes and between threads, so process and
thread hosts share all their code; its end-of-file is how each side learns the other
is gone.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from dataclasses import dataclass
from typing import Any

from .types import RunningJobInfo

_HEADER = struct.Struct("!I")


# ---------------------------------------------------------------- server -> host


@dataclass(frozen=True)
class StartJob:
    info: RunningJobInfo


@dataclass(frozen=True)
class TerminateJob:
    job_id: str
    reason: str


@dataclass(frozen=True)
class Ping:
    seq: int


@dataclass(frozen=True)
class ShutdownHost:
    reason: str


# ---------------------------------------------------------------- host -> server


@dataclass(frozen=True)
class HostReady:
    pid: int


@dataclass(frozen=True)
class HostInitFailed:
    error: str


@dataclass(frozen=True)
class JobStarted:
    job_id: str


@dataclass(frozen=True)
class JobEnded:
    job_id: str
    failed: bool
    error: str
    report: dict[str, Any] | None


@dataclass(frozen=True)
class Pong:
    seq: int


class ChannelClosed(Exception):
    pass


class Channel:
    """One end of the host link, bound to the event loop that opened it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, sock: socket.socket) -> Channel:
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer)

    async def send(self, msg: object) -> None:
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        async with self._lock:
            if self._writer.is_closing():
                raise ChannelClosed("channel closed")
            try:
                self._writer.write(_HEADER.pack(len(data)) + data)
                await self._writer.drain()
            except (ConnectionError, OSError) as e:
                raise ChannelClosed(str(e)) from e

    async def recv(self) -> object:
        try:
            header = await self._reader.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            data = await self._reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            raise ChannelClosed("peer closed the channel") from e
        return pickle.loads(data)

    async def aclose(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass
