"""`LiveKitBackend`: one voxline `Room` connection carried by the LiveKit SDK.

The SDK keeps its own room state; this class only translates. SDK events become
`BackendEvents` calls, and the room's calls become SDK calls: text and byte streams use the
SDK's native streams and RPC its native RPC, so LiveKit clients (web, mobile, the agents
playground) see exactly what they expect.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from livekit import api as lkapi
from livekit import rtc as lk

from ..._utils.aio import TaskSet
from ...audio import AudioFrame
from ...video import VideoFrame
from .._backend import BackendEvents, ConnectOptions, JoinResult, StreamSink, TrackInfo
from .._types import ConnectError, ConnectionState, TrackKind
from ..data_stream import StreamHeader, StreamKind
from ..rpc import RpcError, RpcInvocationData
from ._mapping import (
    api_url,
    connection_state_from_sdk,
    participant_info,
    reason_from_sdk,
    rpc_data_from_sdk,
    rpc_error_from_sdk,
    rpc_error_to_sdk,
    source_to_sdk,
    stream_header,
    track_info,
    video_frame_to_sdk,
)
from ._media import SOURCE_QUEUE_MS, AudioSender, receive_audio, receive_video

logger = logging.getLogger("voxline.rtc.livekit")

DEFAULT_SAMPLE_RATE = 48000
DEFAULT_VIDEO_SIZE = (640, 480)


class _SdkSink:
    """A voxline stream sink over an SDK stream writer."""

    def __init__(self, writer: lk.TextStreamWriter | lk.ByteStreamWriter) -> None:
        self._writer = writer

    async def write(self, chunk: bytes) -> None:
        if isinstance(self._writer, lk.TextStreamWriter):
            # The room splits text on character boundaries, so every chunk decodes alone.
            await self._writer.write(chunk.decode("utf-8"))
        else:
            await self._writer.write(chunk)

    async def close(self, reason: str, attributes: dict[str, str]) -> None:
        await self._writer.aclose(reason=reason, attributes=attributes or None)


class LiveKitBackend:
    """Backend for ``ws://``, ``wss://``, ``http://`` and ``https://`` room URLs.

    ``api_key``/``api_secret`` (default: ``LIVEKIT_API_KEY``/``LIVEKIT_API_SECRET``) are only
    needed by ``delete_room``, which goes through LiveKit's server API since a room token
    cannot delete its room.
    """

    def __init__(self, *, api_key: str | None = None, api_secret: str | None = None) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self._url = ""
        self._room: lk.Room | None = None
        self._events: BackendEvents | None = None
        self._leaving = False
        self._senders: dict[str, AudioSender] = {}
        self._video_sources: dict[str, lk.VideoSource] = {}
        self._local_tracks: dict[str, lk.LocalTrack] = {}
        self._receivers: dict[str, asyncio.Task[None]] = {}
        self._text_topics: set[str] = set()
        self._byte_topics: set[str] = set()
        self._rpc_methods: set[str] = set()
        self._tasks = TaskSet()
        self._ended: asyncio.Task[None] | None = None

    @property
    def sdk_room(self) -> lk.Room | None:
        """The SDK's room, for what voxline does not wrap (e.g. `get_rtc_stats()`)."""
        return self._room

    # ------------------------------------------------------------------ connect / leave

    async def connect(
        self, url: str, token: str | None, options: ConnectOptions, events: BackendEvents
    ) -> JoinResult:
        if not token:
            raise ConnectError(
                f"joining a LiveKit room ({url}) needs an access token signed with the "
                "server's API key and secret"
            )
        room = lk.Room()
        self.attach(room)
        sdk_options = lk.RoomOptions(
            auto_subscribe=options.auto_subscribe, connect_timeout=options.connect_timeout
        )
        try:
            await room.connect(url, token, sdk_options)
        except lk.ConnectError as e:
            raise ConnectError(f"LiveKit at {url} did not let us join: {e.message}") from e
        self._url = url
        return self.join_result(events)

    def attach(self, room: lk.Room) -> None:
        """Listen to `room`'s events (before it connects, so none is missed)."""
        self._room = room
        handlers: dict[str, Any] = {
            "participant_connected": self._on_participant_connected,
            "participant_disconnected": self._on_participant_disconnected,
            "participant_attributes_changed": self._on_attributes_changed,
            "participant_metadata_changed": self._on_metadata_changed,
            "participant_name_changed": self._on_name_changed,
            "track_published": self._on_track_published,
            "track_unpublished": self._on_track_unpublished,
            "track_subscribed": self._on_track_subscribed,
            "track_unsubscribed": self._on_track_unsubscribed,
            "data_received": self._on_data_received,
            "room_metadata_changed": self._on_room_metadata_changed,
            "connection_state_changed": self._on_connection_state_changed,
            "disconnected": self._on_disconnected,
        }
        for event, handler in handlers.items():
            room.on(event, handler)  # type: ignore[arg-type]
        for topic in self._text_topics:
            room.register_text_stream_handler(topic, self._on_text_stream)
        for topic in self._byte_topics:
            room.register_byte_stream_handler(topic, self._on_byte_stream)

    def join_result(self, events: BackendEvents) -> JoinResult:
        """Snapshot the SDK room once joined; from here on its events reach `events`.

        Events the SDK raised while joining were dropped: everything they said is in this
        snapshot. Media of tracks already subscribed starts flowing now."""
        room = self._require_room()
        remotes = [participant_info(p) for p in room.remote_participants.values()]
        for remote in room.remote_participants.values():
            for publication in remote.track_publications.values():
                if publication.track is not None and publication.subscribed:
                    self._start_receiving(remote.identity, publication.sid, publication.track)
        self.bind(events)
        return JoinResult(
            room_name=room.name,
            local=participant_info(room.local_participant, with_tracks=False),
            remotes=remotes,
            room_sid=room._info.sid,  # the public `sid` is awaitable; the info has it already
            room_metadata=room.metadata,
        )

    def bind(self, events: BackendEvents) -> None:
        """Start forwarding the attached room's events to `events`."""
        self._leaving = False
        self._events = events

    async def disconnect(self) -> None:
        self._leaving = True
        self._events = None
        room = self._room
        try:
            if room is not None:
                await room.disconnect()
        finally:
            if self._ended is not None:
                await self._ended
            await self._release()

    async def _release(self) -> None:
        await self._release_media()
        await self._tasks.aclose()

    async def _release_media(self) -> None:
        for task in self._receivers.values():
            task.cancel()
        await asyncio.gather(*self._receivers.values(), return_exceptions=True)
        self._receivers.clear()
        for sender in self._senders.values():
            await sender.aclose()
        self._senders.clear()
        for source in self._video_sources.values():
            await source.aclose()
        self._video_sources.clear()
        self._local_tracks.clear()

    def _require_room(self) -> lk.Room:
        if self._room is None:
            raise RuntimeError("the LiveKit backend is not connected")
        return self._room

    # ------------------------------------------------------------------ local participant

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        await self._require_room().local_participant.set_attributes(attributes)

    async def set_metadata(self, metadata: str) -> None:
        await self._require_room().local_participant.set_metadata(metadata)

    async def set_name(self, name: str) -> None:
        await self._require_room().local_participant.set_name(name)

    async def publish_track(self, track: TrackInfo) -> TrackInfo:
        room = self._require_room()
        options = lk.TrackPublishOptions(source=source_to_sdk(track.source))  # type: ignore[arg-type]
        sdk_track: lk.LocalTrack
        if track.kind == TrackKind.KIND_AUDIO:
            rate = track.sample_rate or DEFAULT_SAMPLE_RATE
            channels = track.num_channels or 1
            source = lk.AudioSource(rate, channels, queue_size_ms=SOURCE_QUEUE_MS)
            sdk_track = lk.LocalAudioTrack.create_audio_track(track.name, source)
            publication = await room.local_participant.publish_track(sdk_track, options)
            self._senders[publication.sid] = AudioSender(source)
            published = TrackInfo(
                sid=publication.sid,
                name=track.name,
                kind=track.kind,
                source=track.source,
                sample_rate=rate,
                num_channels=channels,
            )
        elif track.kind == TrackKind.KIND_VIDEO:
            video = lk.VideoSource(*DEFAULT_VIDEO_SIZE)
            sdk_track = lk.LocalVideoTrack.create_video_track(track.name, video)
            publication = await room.local_participant.publish_track(sdk_track, options)
            self._video_sources[publication.sid] = video
            published = TrackInfo(
                sid=publication.sid, name=track.name, kind=track.kind, source=track.source
            )
        else:
            raise ValueError(f"cannot publish a track of kind {track.kind!r}")
        self._local_tracks[publication.sid] = sdk_track
        return published

    async def unpublish_track(self, sid: str) -> None:
        await self._require_room().local_participant.unpublish_track(sid)
        self._local_tracks.pop(sid, None)
        sender = self._senders.pop(sid, None)
        if sender is not None:
            await sender.aclose()
        video = self._video_sources.pop(sid, None)
        if video is not None:
            await video.aclose()

    def send_audio_frame(self, sid: str, frame: AudioFrame) -> None:
        sender = self._senders.get(sid)
        if sender is None:
            raise KeyError(f"no published audio track {sid!r}")
        sender.send(frame)

    def send_video_frame(self, sid: str, frame: VideoFrame) -> None:
        source = self._video_sources.get(sid)
        if source is None:
            raise KeyError(f"no published video track {sid!r}")
        source.capture_frame(video_frame_to_sdk(frame), timestamp_us=int(frame.timestamp * 1e6))

    async def set_subscribed(self, identity: str, sid: str, subscribed: bool) -> None:
        remote = self._require_room().remote_participants.get(identity)
        publication = remote.track_publications.get(sid) if remote is not None else None
        if publication is None:
            raise KeyError(f"{identity!r} has no track {sid!r}")
        publication.set_subscribed(subscribed)

    # ------------------------------------------------------------------ data, streams, RPC

    async def publish_data(
        self, payload: bytes, *, topic: str, reliable: bool, destinations: list[str] | None
    ) -> None:
        await self._require_room().local_participant.publish_data(
            payload, reliable=reliable, destination_identities=destinations or [], topic=topic
        )

    async def open_stream(self, header: StreamHeader, destinations: list[str] | None) -> StreamSink:
        local = self._require_room().local_participant
        writer: lk.TextStreamWriter | lk.ByteStreamWriter
        if header.kind == "text":
            writer = await local.stream_text(
                destination_identities=destinations,
                topic=header.topic,
                attributes=header.attributes,
                stream_id=header.stream_id,
                reply_to_id=header.reply_to_id,
                total_size=header.total_size,
                sender_identity=header.sender_identity,
            )
        else:
            writer = await local.stream_bytes(
                header.name or header.stream_id,
                total_size=header.total_size,
                mime_type=header.mime_type,
                attributes=header.attributes,
                stream_id=header.stream_id,
                destination_identities=destinations,
                topic=header.topic,
            )
        return _SdkSink(writer)

    def watch_stream_topic(self, topic: str, kind: StreamKind) -> None:
        topics = self._text_topics if kind == "text" else self._byte_topics
        if topic in topics:
            return
        topics.add(topic)
        if self._room is not None:
            if kind == "text":
                self._room.register_text_stream_handler(topic, self._on_text_stream)
            else:
                self._room.register_byte_stream_handler(topic, self._on_byte_stream)

    async def perform_rpc(
        self, destination: str, method: str, payload: str, response_timeout: float
    ) -> str:
        try:
            return await self._require_room().local_participant.perform_rpc(
                destination_identity=destination,
                method=method,
                payload=payload,
                response_timeout=response_timeout,
            )
        except lk.RpcError as e:
            raise rpc_error_from_sdk(e) from None

    def watch_rpc_method(self, method: str, registered: bool) -> None:
        local = self._require_room().local_participant
        if registered and method not in self._rpc_methods:
            self._rpc_methods.add(method)
            local.register_rpc_method(method, self._rpc_handler(method))
        elif not registered and method in self._rpc_methods:
            self._rpc_methods.discard(method)
            local.unregister_rpc_method(method)

    def _rpc_handler(self, method: str) -> Any:
        async def handle(data: lk.RpcInvocationData) -> str:
            events = self._events
            if events is None:
                raise lk.RpcError(lk.RpcError.ErrorCode.RECIPIENT_DISCONNECTED, "not connected")
            request: RpcInvocationData = rpc_data_from_sdk(data)
            request.method = request.method or method
            try:
                return await events.on_rpc_request(method, request)
            except RpcError as e:
                raise rpc_error_to_sdk(e) from None

        return handle

    async def delete_room(self) -> None:
        key = self._api_key or os.environ.get("LIVEKIT_API_KEY")
        secret = self._api_secret or os.environ.get("LIVEKIT_API_SECRET")
        if not key or not secret:
            raise NotImplementedError(
                "deleting a LiveKit room needs the server API: set LIVEKIT_API_KEY and "
                "LIVEKIT_API_SECRET (a room token cannot delete its room)"
            )
        room = self._require_room()
        async with lkapi.LiveKitAPI(api_url(self._url), key, secret) as server:
            await server.room.delete_room(lkapi.DeleteRoomRequest(room=room.name))

    # ------------------------------------------------------------------ SDK events

    def _on_participant_connected(self, participant: lk.RemoteParticipant) -> None:
        if self._events is not None:
            self._events.on_participant_joined(participant_info(participant))

    def _on_participant_disconnected(self, participant: lk.RemoteParticipant) -> None:
        if self._events is not None:
            reason = reason_from_sdk(participant.disconnect_reason or 0)
            self._events.on_participant_left(participant.identity, reason)

    def _on_attributes_changed(self, changed: dict[str, str], participant: lk.Participant) -> None:
        if self._events is not None:
            attributes = dict(participant.attributes)
            self._events.on_participant_updated(participant.identity, attributes=attributes)

    def _on_metadata_changed(self, participant: lk.Participant, old: str, new: str) -> None:
        if self._events is not None:
            self._events.on_participant_updated(participant.identity, metadata=new)

    def _on_name_changed(self, participant: lk.Participant, old: str, new: str) -> None:
        if self._events is not None:
            self._events.on_participant_updated(participant.identity, name=new)

    def _on_track_published(
        self, publication: lk.RemoteTrackPublication, participant: lk.RemoteParticipant
    ) -> None:
        if self._events is not None:
            self._events.on_track_published(participant.identity, track_info(publication))

    def _on_track_unpublished(
        self, publication: lk.RemoteTrackPublication, participant: lk.RemoteParticipant
    ) -> None:
        self._stop_receiving(publication.sid)
        if self._events is not None:
            self._events.on_track_unpublished(participant.identity, publication.sid)

    def _on_track_subscribed(
        self, track: lk.Track, publication: lk.TrackPublication, participant: lk.Participant
    ) -> None:
        # Media starts even before the join completes; frames are dropped until it has.
        self._start_receiving(participant.identity, publication.sid, track)
        if self._events is not None:
            self._events.on_track_subscribed(participant.identity, publication.sid)

    def _on_track_unsubscribed(
        self, track: lk.Track | None, publication: lk.TrackPublication, participant: lk.Participant
    ) -> None:
        self._stop_receiving(publication.sid)
        if self._events is not None:
            self._events.on_track_unsubscribed(participant.identity, publication.sid)

    def _on_data_received(self, packet: lk.DataPacket) -> None:
        if self._events is not None:
            sender = packet.participant.identity if packet.participant is not None else None
            self._events.on_data(sender, bytes(packet.data), packet.topic or "")

    def _on_room_metadata_changed(self, old: str, new: str) -> None:
        if self._events is not None:
            self._events.on_room_updated(metadata=new)

    def _on_connection_state_changed(self, state: int) -> None:
        mapped = connection_state_from_sdk(state)
        # The end of the connection is reported once, by `disconnected`.
        if self._events is not None and mapped != ConnectionState.CONN_DISCONNECTED:
            self._events.on_connection_state(mapped)

    def _on_disconnected(self, reason: int) -> None:
        events, self._events = self._events, None
        if self._leaving or events is None:
            return  # our own leave: the room handles it
        events.on_disconnected(reason_from_sdk(reason))
        # Not in `_tasks`: releasing ends with closing that set.
        self._ended = asyncio.get_running_loop().create_task(
            self._release(), name="livekit_release"
        )

    def _on_text_stream(self, reader: lk.TextStreamReader, participant_identity: str) -> None:
        self._tasks.create(self._pump_stream(reader, "text", participant_identity))

    def _on_byte_stream(self, reader: lk.ByteStreamReader, participant_identity: str) -> None:
        self._tasks.create(self._pump_stream(reader, "byte", participant_identity))

    async def _pump_stream(
        self, reader: lk.TextStreamReader | lk.ByteStreamReader, kind: StreamKind, sender: str
    ) -> None:
        events = self._events
        if events is None:
            reader.close()
            return
        header = stream_header(reader.info, kind, sender)
        opened = dict(header.attributes)
        events.on_stream_header(sender, header)
        reason = ""
        try:
            async for chunk in reader:
                data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
                events.on_stream_chunk(header.stream_id, data)
        except lk.StreamError as e:
            reason = e.description or "stream error"
        # The SDK merges the trailer's attributes into the info: pass on what it added.
        final = reader.info.attributes or {}
        added = {k: v for k, v in final.items() if opened.get(k) != v}
        events.on_stream_trailer(header.stream_id, reason, added)

    # ------------------------------------------------------------------ remote media

    def _start_receiving(self, identity: str, sid: str, track: lk.Track) -> None:
        if sid in self._receivers:
            return

        def deliver_audio(frame: AudioFrame) -> None:
            if self._events is not None:
                self._events.on_audio_frame(identity, sid, frame)

        def deliver_video(frame: VideoFrame) -> None:
            if self._events is not None:
                self._events.on_video_frame(identity, sid, frame)

        if track.kind == lk.TrackKind.KIND_AUDIO:
            coro = receive_audio(track, deliver_audio)
        elif track.kind == lk.TrackKind.KIND_VIDEO:
            coro = receive_video(track, deliver_video)
        else:
            return
        task = asyncio.get_running_loop().create_task(coro, name=f"livekit_receive:{sid}")
        self._receivers[sid] = task
        task.add_done_callback(lambda t: self._receiver_done(sid, t))

    def _receiver_done(self, sid: str, task: asyncio.Task[None]) -> None:
        if self._receivers.get(sid) is task:
            del self._receivers[sid]
        if not task.cancelled() and task.exception() is not None:
            logger.error("receiving track %s failed", sid, exc_info=task.exception())

    def _stop_receiving(self, sid: str) -> None:
        task = self._receivers.pop(sid, None)
        if task is not None:
            task.cancel()
