"""`from voxline import room_io`: RoomIO and its options (`voxline.voice.room_io`)."""

from .voice.room_io import *  # noqa: F403
from .voice.room_io import __all__ as __all__
