"""Tracks and track publications.

A track fans its frames out to whoever listens: the streams reading it (`AudioStream`,
`VideoStream`) and, for a published local track, the backend. Remote tracks are fed by the
room as the backend delivers media; they end (and end their streams) when unsubscribed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .._utils.aio import short_id
from ..audio import AudioFrame
from ..video import VideoFrame
from ._types import TrackKind, TrackSource

if TYPE_CHECKING:
    from .audio_source import AudioSource
    from .video_source import VideoSource

F = TypeVar("F", AudioFrame, VideoFrame)


class _FrameListener(Protocol[F]):  # type: ignore[misc]
    def _on_frame(self, frame: F) -> None: ...

    def _on_track_ended(self) -> None: ...


class Track(Generic[F]):
    kind: TrackKind = TrackKind.KIND_UNKNOWN

    def __init__(self, sid: str, name: str) -> None:
        self._sid = sid
        self._name = name
        self._muted = False
        self._listeners: list[_FrameListener[F]] = []

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def name(self) -> str:
        return self._name

    @property
    def muted(self) -> bool:
        return self._muted

    def _listen(self, listener: _FrameListener[F]) -> None:
        self._listeners.append(listener)

    def _unlisten(self, listener: _FrameListener[F]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _deliver(self, frame: F) -> None:
        for listener in self._listeners:
            listener._on_frame(frame)

    def _end(self) -> None:
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener._on_track_ended()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sid={self._sid!r}, name={self._name!r})"


class _LocalTrack(Track[F]):
    def __init__(self, name: str) -> None:
        super().__init__(short_id("TR"), name)
        self._publisher: Callable[[F], None] | None = None

    def mute(self) -> None:
        """Stop sending (local streams still see the frames)."""
        self._muted = True

    def unmute(self) -> None:
        self._muted = False

    def _set_published(self, sid: str, publisher: Callable[[F], None] | None) -> None:
        self._sid = sid
        self._publisher = publisher

    def _from_source(self, frame: F) -> None:
        self._deliver(frame)
        if self._publisher is not None and not self._muted:
            self._publisher(frame)


class LocalAudioTrack(_LocalTrack[AudioFrame]):
    kind = TrackKind.KIND_AUDIO

    def __init__(self, name: str, source: AudioSource) -> None:
        super().__init__(name)
        self._source = source
        source._add_sink(self._from_source)

    @classmethod
    def create_audio_track(cls, name: str, source: AudioSource) -> LocalAudioTrack:
        return cls(name, source)

    @property
    def source(self) -> AudioSource:
        return self._source


class LocalVideoTrack(_LocalTrack[VideoFrame]):
    kind = TrackKind.KIND_VIDEO

    def __init__(self, name: str, source: VideoSource) -> None:
        super().__init__(name)
        self._source = source
        source._add_sink(self._from_source)

    @classmethod
    def create_video_track(cls, name: str, source: VideoSource) -> LocalVideoTrack:
        return cls(name, source)

    @property
    def source(self) -> VideoSource:
        return self._source


class RemoteAudioTrack(Track[AudioFrame]):
    kind = TrackKind.KIND_AUDIO


class RemoteVideoTrack(Track[VideoFrame]):
    kind = TrackKind.KIND_VIDEO


LocalTrack = LocalAudioTrack | LocalVideoTrack
RemoteTrack = RemoteAudioTrack | RemoteVideoTrack


class TrackPublication:
    def __init__(
        self,
        sid: str,
        name: str,
        kind: TrackKind,
        source: TrackSource,
        *,
        muted: bool = False,
        sample_rate: int = 0,
        num_channels: int = 0,
    ) -> None:
        self._sid = sid
        self._name = name
        self._kind = kind
        self._source = source
        self._muted = muted
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self._track: Any = None

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> TrackKind:
        return self._kind

    @property
    def source(self) -> TrackSource:
        return self._source

    @property
    def muted(self) -> bool:
        return self._muted

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sid={self._sid!r}, name={self._name!r}, "
            f"kind={self._kind.name}, source={self._source.name})"
        )


class LocalTrackPublication(TrackPublication):
    @property
    def track(self) -> LocalTrack | None:
        track: LocalTrack | None = self._track
        return track


class RemoteTrackPublication(TrackPublication):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._subscribed = False
        self._set_subscribed_cb: Callable[[bool], None] | None = None

    @property
    def track(self) -> RemoteTrack | None:
        track: RemoteTrack | None = self._track
        return track

    @property
    def subscribed(self) -> bool:
        return self._subscribed

    def set_subscribed(self, subscribed: bool) -> None:
        """Ask for (or stop) this track's media; `track_subscribed` follows."""
        if self._set_subscribed_cb is not None:
            self._set_subscribed_cb(subscribed)
