"""The LiveKit backend: `voxline.rtc.Room().connect("wss://...", token)` joins a LiveKit room.

Selected by the URL scheme (``ws``, ``wss``, ``http``, ``https``) and built on the official
``livekit`` SDK (the ``livekit`` extra). Everything above the backend, RoomIO included, is
the same as on voxline's own rooms: audio in and out, text and byte streams by topic,
attributes, RPC, participant kinds and disconnect reasons.
"""

from __future__ import annotations

from ._connection import LiveKitBackend

__all__ = ["LiveKitBackend", "create_backend"]


def create_backend(url: str) -> LiveKitBackend:
    """The backend factory the scheme table calls; the URL is given again to `connect`."""
    return LiveKitBackend()
