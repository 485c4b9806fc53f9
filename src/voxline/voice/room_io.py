"""RoomIO binds a session to a room. The room model and transports arrive with the rooms
work; until then starting a session with `room=` explains what to do instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class RoomOptions:
    text_input: bool | Any = True
    audio_input: bool | Any = True
    video_input: bool | Any = False
    audio_output: bool | Any = True
    text_output: bool | Any = True
    participant_kinds: list[Any] | None = None
    participant_identity: str | None = None
    close_on_disconnect: bool = True
    delete_room_on_close: bool = False


class RoomIO:
    def __init__(self, session: Any, room: Any, *, options: RoomOptions | None = None) -> None:
        raise NotImplementedError(
            "rooms are not available in this voxline version yet; attach I/O with "
            "session.input.audio / session.output.audio / session.output.transcription"
        )

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _on_agent_state(self, state: str) -> None:
        return None
