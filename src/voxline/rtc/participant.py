"""Participants: the local one (publishes, sends, calls) and the remote ones (observed)."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._backend import TrackInfo
from ._types import DisconnectReason, ParticipantKind, TrackPublishOptions
from .data_stream import (
    ByteStreamInfo,
    ByteStreamWriter,
    StreamHeader,
    TextStreamInfo,
    TextStreamWriter,
    guess_mime_type,
    new_header,
)
from .rpc import DEFAULT_RESPONSE_TIMEOUT, RpcError, RpcInvocationData, check_payload
from .track import (
    LocalAudioTrack,
    LocalTrack,
    LocalTrackPublication,
    LocalVideoTrack,
    RemoteTrackPublication,
)

if TYPE_CHECKING:
    from ._backend import Backend, StreamSink
    from .room import Room

RpcHandler = Callable[[RpcInvocationData], "str | Awaitable[str]"]
H = TypeVar("H", bound=RpcHandler)


class Participant:
    def __init__(
        self,
        identity: str,
        *,
        name: str = "",
        kind: ParticipantKind = ParticipantKind.STANDARD,
        sid: str = "",
        metadata: str = "",
        attributes: dict[str, str] | None = None,
    ) -> None:
        self._identity = identity
        self._name = name
        self._kind = kind
        self._sid = sid
        self._metadata = metadata
        self._attributes: dict[str, str] = dict(attributes or {})

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> ParticipantKind:
        return self._kind

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def metadata(self) -> str:
        return self._metadata

    @property
    def attributes(self) -> dict[str, str]:
        """A copy: change yours with `local_participant.set_attributes()`."""
        return dict(self._attributes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(identity={self._identity!r}, kind={self._kind.name})"


class RemoteParticipant(Participant):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._track_publications: dict[str, RemoteTrackPublication] = {}
        self._disconnect_reason: DisconnectReason | None = None

    @property
    def track_publications(self) -> dict[str, RemoteTrackPublication]:
        return dict(self._track_publications)

    @property
    def disconnect_reason(self) -> DisconnectReason | None:
        """Why the participant left (None while it is in the room)."""
        return self._disconnect_reason


class LocalParticipant(Participant):
    def __init__(self, room: Room, backend: Backend, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._room = room
        self._backend = backend
        self._track_publications: dict[str, LocalTrackPublication] = {}
        self._rpc_handlers: dict[str, RpcHandler] = {}

    @property
    def track_publications(self) -> dict[str, LocalTrackPublication]:
        return dict(self._track_publications)

    # ------------------------------------------------------------------ identity

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        """Update these keys (an empty value deletes one); others see
        `participant_attributes_changed`."""
        for key, value in attributes.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"attributes are str -> str, got {key!r}: {value!r}")
        changed = {k: v for k, v in attributes.items() if self._attributes.get(k, "") != v}
        if not changed:
            return
        await self._backend.set_attributes(changed)
        new = dict(self._attributes)
        for key, value in changed.items():
            if value:
                new[key] = value
            else:
                new.pop(key, None)
        self._room._apply_attributes(self, new)

    async def set_metadata(self, metadata: str) -> None:
        await self._backend.set_metadata(metadata)
        self._metadata = metadata

    async def set_name(self, name: str) -> None:
        await self._backend.set_name(name)
        self._name = name

    # ------------------------------------------------------------------ tracks

    async def publish_track(
        self, track: LocalTrack, options: TrackPublishOptions | None = None
    ) -> LocalTrackPublication:
        if not isinstance(track, (LocalAudioTrack, LocalVideoTrack)):
            raise TypeError(f"publish_track takes a local track, got {type(track).__name__}")
        if any(p.track is track for p in self._track_publications.values()):
            raise ValueError(f"track {track.name!r} is already published")
        options = options or TrackPublishOptions()
        info = TrackInfo(sid=track.sid, name=track.name, kind=track.kind, source=options.source)
        if isinstance(track, LocalAudioTrack):
            info.sample_rate = track.source.sample_rate
            info.num_channels = track.source.num_channels
        published = await self._backend.publish_track(info)
        backend = self._backend
        sid = published.sid
        if isinstance(track, LocalAudioTrack):
            track._set_published(published.sid, lambda f: backend.send_audio_frame(sid, f))
        else:
            track._set_published(published.sid, lambda f: backend.send_video_frame(sid, f))
        pub = LocalTrackPublication(
            sid,
            track.name,
            track.kind,
            options.source,
            sample_rate=published.sample_rate,
            num_channels=published.num_channels,
        )
        pub._track = track
        self._track_publications[sid] = pub
        self._room.emit("local_track_published", pub, track)
        return pub

    async def unpublish_track(self, track_sid: str) -> None:
        pub = self._track_publications.pop(track_sid, None)
        if pub is None:
            raise ValueError(f"no published track with sid {track_sid!r}")
        track = pub.track
        if track is not None:
            track._set_published(track.sid, None)
        await self._backend.unpublish_track(track_sid)
        self._room.emit("local_track_unpublished", pub)

    # ------------------------------------------------------------------ data

    async def publish_data(
        self,
        payload: bytes | str,
        *,
        reliable: bool = True,
        destination_identities: list[str] | None = None,
        topic: str = "",
    ) -> None:
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        await self._backend.publish_data(
            data, topic=topic, reliable=reliable, destinations=destination_identities
        )

    async def _open(self, header: StreamHeader, destinations: list[str] | None) -> StreamSink:
        self._room._require_connected()
        return await self._backend.open_stream(header, destinations)

    async def stream_text(
        self,
        *,
        destination_identities: list[str] | None = None,
        topic: str = "",
        attributes: dict[str, str] | None = None,
        stream_id: str | None = None,
        reply_to_id: str | None = None,
        total_size: int | None = None,
        sender_identity: str | None = None,
    ) -> TextStreamWriter:
        """A writer for one text stream; `sender_identity` sends on behalf of another
        participant (user transcripts are attributed to the user this way)."""
        header = new_header(
            "text",
            topic=topic,
            attributes=attributes,
            stream_id=stream_id,
            total_size=total_size,
            sender_identity=sender_identity,
            reply_to_id=reply_to_id,
        )
        dest = list(destination_identities) if destination_identities else None
        return TextStreamWriter(header, lambda h: self._open(h, dest))

    async def send_text(
        self,
        text: str,
        *,
        destination_identities: list[str] | None = None,
        topic: str = "",
        attributes: dict[str, str] | None = None,
        reply_to_id: str | None = None,
    ) -> TextStreamInfo:
        writer = await self.stream_text(
            destination_identities=destination_identities,
            topic=topic,
            attributes=attributes,
            reply_to_id=reply_to_id,
            total_size=len(text.encode()),
        )
        await writer.write(text)
        await writer.aclose()
        return writer.info

    async def stream_bytes(
        self,
        name: str,
        *,
        total_size: int | None = None,
        mime_type: str = "application/octet-stream",
        attributes: dict[str, str] | None = None,
        stream_id: str | None = None,
        destination_identities: list[str] | None = None,
        topic: str = "",
    ) -> ByteStreamWriter:
        header = new_header(
            "byte",
            topic=topic,
            attributes=attributes,
            stream_id=stream_id,
            mime_type=mime_type,
            total_size=total_size,
            name=name,
        )
        dest = list(destination_identities) if destination_identities else None
        return ByteStreamWriter(header, lambda h: self._open(h, dest))

    async def send_file(
        self,
        file_path: str,
        *,
        topic: str = "",
        destination_identities: list[str] | None = None,
        attributes: dict[str, str] | None = None,
        stream_id: str | None = None,
    ) -> ByteStreamInfo:
        data = await asyncio.get_running_loop().run_in_executor(None, _read_file, file_path)
        writer = await self.stream_bytes(
            os.path.basename(file_path),
            total_size=len(data),
            mime_type=guess_mime_type(file_path),
            attributes=attributes,
            stream_id=stream_id,
            destination_identities=destination_identities,
            topic=topic,
        )
        await writer.write(data)
        await writer.aclose()
        return writer.info

    # ------------------------------------------------------------------ rpc

    async def perform_rpc(
        self,
        *,
        destination_identity: str,
        method: str,
        payload: str,
        response_timeout: float | None = None,
    ) -> str:
        """Call `method` on another participant; raises RpcError (LiveKit's codes)."""
        self._room._require_connected()
        check_payload(payload, RpcError.ErrorCode.REQUEST_PAYLOAD_TOO_LARGE)
        timeout = DEFAULT_RESPONSE_TIMEOUT if response_timeout is None else response_timeout
        if timeout <= 0:
            raise ValueError(f"response_timeout must be > 0, got {timeout}")
        return await self._backend.perform_rpc(destination_identity, method, payload, timeout)

    @overload
    def register_rpc_method(self, method_name: str, handler: H) -> H: ...

    @overload
    def register_rpc_method(self, method_name: str, handler: None = None) -> Callable[[H], H]: ...

    def register_rpc_method(
        self, method_name: str, handler: H | None = None
    ) -> H | Callable[[H], H]:
        """Answer calls of `method_name`; usable as a decorator. The handler (sync or async)
        gets `RpcInvocationData` and returns the response string or raises RpcError."""
        if not method_name:
            raise ValueError("an RPC method needs a name")

        def register(fn: H) -> H:
            self._rpc_handlers[method_name] = fn
            self._backend.watch_rpc_method(method_name, True)
            return fn

        if handler is None:
            return register
        return register(handler)

    def unregister_rpc_method(self, method: str) -> None:
        if self._rpc_handlers.pop(method, None) is not None:
            self._backend.watch_rpc_method(method, False)

    async def _handle_rpc(self, method: str, data: RpcInvocationData) -> str:
        handler = self._rpc_handlers.get(method)
        if handler is None:
            raise RpcError._built_in(RpcError.ErrorCode.UNSUPPORTED_METHOD)
        try:
            result = handler(data)
            if inspect.isawaitable(result):
                result = await result
        except RpcError:
            raise
        except Exception:
            import logging

            logging.getLogger("voxline.rtc").exception("error in RPC handler %r", method)
            raise RpcError._built_in(RpcError.ErrorCode.APPLICATION_ERROR) from None
        if not isinstance(result, str):
            raise RpcError(
                RpcError.ErrorCode.APPLICATION_ERROR,
                f"handler of {method!r} returned {type(result).__name__}, not str",
            )
        check_payload(result, RpcError.ErrorCode.RESPONSE_PAYLOAD_TOO_LARGE)
        return result


def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
