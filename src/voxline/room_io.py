"""`from voxline import room_io` — RoomIO and its options."""

from .voice.room_io import RoomIO, RoomOptions

__all__ = ["RoomIO", "RoomOptions"]
