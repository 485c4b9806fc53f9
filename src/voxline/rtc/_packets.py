"""Data packets, text/byte streams and RPC over one "send bytes to identities" function.

The memory backend and the local backend (a WebSocket client of the embedded server) share
this: a packet is one byte string (a 4-byte big-endian length, a JSON header, then the raw
payload), the transport only routes it between identities, and `PacketEndpoint` turns
packets into `BackendEvents` calls and back. Routing envelopes (who sent it, to whom) belong
to the transport, not to the packet.

Packet types (`t` in the JSON header):
  data  {topic, reliable} + payload           raw data (`data_received`)
  sh    {stream header fields}                stream opens
  sc    {id, i}          + chunk              stream chunk number i
  st    {id, reason, attributes}              stream trailer
  rq    {id, method, payload, timeout}        RPC request (timeout in seconds)
  ra    {id}                                  RPC request received
  rp    {id, payload} or {id, error}          RPC response
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .._utils.aio import TaskSet, short_id
from .data_stream import StreamHeader
from .rpc import ACK_TIMEOUT, RpcError, RpcInvocationData

if TYPE_CHECKING:
    from ._backend import BackendEvents, StreamSink

logger = logging.getLogger("voxline.rtc")

_LEN = struct.Struct(">I")
MAX_HEADER_BYTES = 64 * 1024


class PacketError(ValueError):
    """Bytes that are not a well-formed packet."""


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _LEN.pack(len(head)) + head + payload


def decode(data: bytes) -> tuple[dict[str, Any], bytes]:
    if len(data) < _LEN.size:
        raise PacketError(f"packet of {len(data)} bytes is shorter than its length prefix")
    (size,) = _LEN.unpack_from(data)
    if size > MAX_HEADER_BYTES or _LEN.size + size > len(data):
        raise PacketError(f"packet header length {size} does not fit the {len(data)}-byte packet")
    try:
        header = json.loads(data[_LEN.size : _LEN.size + size])
    except ValueError as e:
        raise PacketError(f"packet header is not JSON: {e}") from e
    if not isinstance(header, dict) or not isinstance(header.get("t"), str):
        raise PacketError("packet header must be a JSON object with a type 't'")
    return header, bytes(data[_LEN.size + size :])


def stream_header_packet(header: StreamHeader) -> bytes:
    return encode({"t": "sh", **asdict(header)})


def _header_from(fields: dict[str, Any]) -> StreamHeader:
    try:
        return StreamHeader(
            stream_id=str(fields["stream_id"]),
            kind="text" if fields["kind"] == "text" else "byte",
            topic=str(fields.get("topic", "")),
            timestamp=int(fields.get("timestamp", 0)),
            mime_type=str(fields.get("mime_type", "")),
            attributes={str(k): str(v) for k, v in (fields.get("attributes") or {}).items()},
            total_size=fields.get("total_size"),
            name=str(fields.get("name", "")),
            sender_identity=fields.get("sender_identity"),
            reply_to_id=fields.get("reply_to_id"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise PacketError(f"malformed stream header: {e}") from e


Send = Callable[[bytes, "list[str] | None"], Awaitable[None]]
"""Deliver one packet to these identities (None: everyone else in the room)."""


class _PacketSink:
    def __init__(self, endpoint: PacketEndpoint, stream_id: str, dest: list[str] | None) -> None:
        self._endpoint = endpoint
        self._id = stream_id
        self._dest = dest
        self._index = 0

    async def write(self, chunk: bytes) -> None:
        await self._endpoint._send(
            encode({"t": "sc", "id": self._id, "i": self._index}, chunk), self._dest
        )
        self._index += 1

    async def close(self, reason: str, attributes: dict[str, str]) -> None:
        await self._endpoint._send(
            encode({"t": "st", "id": self._id, "reason": reason, "attributes": attributes}),
            self._dest,
        )


class PacketEndpoint:
    """The data half of a packet backend: `send` goes out, `receive()` is fed what comes
    in, and `events` hears about it. `is_present(identity)` lets RPC fail fast with
    RECIPIENT_NOT_FOUND."""

    def __init__(
        self,
        send: Send,
        events: BackendEvents,
        *,
        is_present: Callable[[str], bool] = lambda identity: True,
    ) -> None:
        self._send = send
        self._events = events
        self._is_present = is_present
        self._calls: dict[str, tuple[str, asyncio.Future[None], asyncio.Future[str]]] = {}
        self._tasks = TaskSet()

    # ------------------------------------------------------------------ outgoing

    async def publish_data(
        self, payload: bytes, *, topic: str, reliable: bool, destinations: list[str] | None
    ) -> None:
        await self._send(
            encode({"t": "data", "topic": topic, "reliable": reliable}, payload), destinations
        )

    async def open_stream(self, header: StreamHeader, destinations: list[str] | None) -> StreamSink:
        await self._send(stream_header_packet(header), destinations)
        return _PacketSink(self, header.stream_id, destinations)

    async def perform_rpc(
        self, destination: str, method: str, payload: str, response_timeout: float
    ) -> str:
        if not self._is_present(destination):
            raise RpcError._built_in(RpcError.ErrorCode.RECIPIENT_NOT_FOUND)
        loop = asyncio.get_running_loop()
        request_id = short_id("RPC")
        acked: asyncio.Future[None] = loop.create_future()
        answered: asyncio.Future[str] = loop.create_future()
        self._calls[request_id] = (destination, acked, answered)
        started = loop.time()
        try:
            packet = {"t": "rq", "id": request_id, "method": method, "payload": payload}
            packet["timeout"] = response_timeout  # type: ignore[assignment]
            try:
                await self._send(encode(packet), [destination])
            except Exception as e:
                raise RpcError._built_in(RpcError.ErrorCode.SEND_FAILED, str(e)) from e
            try:
                await asyncio.wait_for(asyncio.shield(acked), min(ACK_TIMEOUT, response_timeout))
            except asyncio.TimeoutError:
                raise RpcError._built_in(RpcError.ErrorCode.CONNECTION_TIMEOUT) from None
            remaining = response_timeout - (loop.time() - started)
            try:
                return await asyncio.wait_for(asyncio.shield(answered), max(remaining, 0.0))
            except asyncio.TimeoutError:
                raise RpcError._built_in(RpcError.ErrorCode.RESPONSE_TIMEOUT) from None
        finally:
            self._calls.pop(request_id, None)

    def participant_left(self, identity: str) -> None:
        """Fail the calls waiting on `identity` (RECIPIENT_DISCONNECTED)."""
        for destination, acked, answered in list(self._calls.values()):
            if destination == identity and not answered.done():
                if not acked.done():
                    acked.set_result(None)
                answered.set_exception(
                    RpcError._built_in(RpcError.ErrorCode.RECIPIENT_DISCONNECTED)
                )

    def close(self) -> None:
        """Fail pending calls and cancel running handlers (they stop on the next loop
        iteration; `aclose()` also waits for that)."""
        for _, acked, answered in list(self._calls.values()):
            if not acked.done():
                acked.set_result(None)
            if not answered.done():
                answered.set_exception(
                    RpcError._built_in(RpcError.ErrorCode.SEND_FAILED, "disconnected")
                )
        for task in self._tasks.tasks:
            task.cancel()

    async def aclose(self) -> None:
        self.close()
        await self._tasks.aclose()

    # ------------------------------------------------------------------ incoming

    def receive(self, sender: str, data: bytes) -> None:
        """Handle one packet from `sender`; malformed packets are logged and dropped."""
        try:
            header, payload = decode(data)
            self._dispatch(sender, header, payload)
        except (PacketError, KeyError, TypeError, ValueError) as e:
            logger.warning("dropping a malformed packet from %r: %s", sender, e)

    def _dispatch(self, sender: str, h: dict[str, Any], payload: bytes) -> None:
        kind = h["t"]
        events = self._events
        if kind == "data":
            events.on_data(sender, payload, str(h.get("topic", "")))
        elif kind == "sh":
            events.on_stream_header(sender, _header_from(h))
        elif kind == "sc":
            events.on_stream_chunk(str(h["id"]), payload)
        elif kind == "st":
            attributes = {str(k): str(v) for k, v in (h.get("attributes") or {}).items()}
            events.on_stream_trailer(str(h["id"]), str(h.get("reason", "")), attributes)
        elif kind == "rq":
            request_id = str(h["id"])
            self._tasks.create(self._send(encode({"t": "ra", "id": request_id}), [sender]))
            data = RpcInvocationData(
                request_id=request_id,
                caller_identity=sender,
                payload=str(h.get("payload", "")),
                response_timeout=float(h.get("timeout", 15.0)),
                method=str(h["method"]),
            )
            self._tasks.create(self._answer(sender, data), name=f"rpc:{data.method}")
        elif kind == "ra":
            call = self._calls.get(str(h["id"]))
            if call is not None and not call[1].done():
                call[1].set_result(None)
        elif kind == "rp":
            call = self._calls.get(str(h["id"]))
            if call is None or call[2].done():
                return  # late answer to a call that timed out
            if not call[1].done():
                call[1].set_result(None)
            if "error" in h:
                call[2].set_exception(RpcError.from_dict(h["error"]))
            else:
                call[2].set_result(str(h.get("payload", "")))
        else:
            raise PacketError(f"unknown packet type {kind!r}")

    async def _answer(self, caller: str, data: RpcInvocationData) -> None:
        try:
            response = await asyncio.wait_for(
                self._events.on_rpc_request(data.method, data), data.response_timeout
            )
            reply: dict[str, Any] = {"t": "rp", "id": data.request_id, "payload": response}
        except RpcError as e:
            reply = {"t": "rp", "id": data.request_id, "error": e.to_dict()}
        except asyncio.TimeoutError:
            return  # the caller has given up with RESPONSE_TIMEOUT already
        except Exception:
            logger.exception("error answering RPC %r", data.method)
            error = RpcError._built_in(RpcError.ErrorCode.APPLICATION_ERROR)
            reply = {"t": "rp", "id": data.request_id, "error": error.to_dict()}
        await self._send(encode(reply), [caller])
