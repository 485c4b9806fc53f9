"""voxline.server: the embedded room server.

`RoomServer` hosts rooms (participants over WebSocket PCM at `/rtc/ws` and WebRTC at
`/rtc/webrtc/offer`, see PROTOCOL.md), LiveKit's RoomService subset over Twirp, and the
`Dispatcher` that registers agent workers over `/agent` and dispatches jobs into those rooms.
`await RoomServer(key, secret).start()` serves it all on 127.0.0.1; `python -m voxline.server`
runs it standalone. The `Dispatcher` alone serves workers without rooms.
"""

from .auth import JoinDenied, JoinGrant
from .dispatcher import Dispatcher
from .room_server import RoomServer
from .rooms import Permissions, RoomError, RoomHub, ServerParticipant, ServerRoom, ServerTrack
from .state import DispatchRecord, JobRecord, ProtocolMessage, RoomRecord, WorkerRecord
from .tokens import AuthError, mint_agent_token, mint_room_token

__all__ = [
    "AuthError",
    "DispatchRecord",
    "Dispatcher",
    "JobRecord",
    "JoinDenied",
    "JoinGrant",
    "Permissions",
    "ProtocolMessage",
    "RoomError",
    "RoomHub",
    "RoomRecord",
    "RoomServer",
    "ServerParticipant",
    "ServerRoom",
    "ServerTrack",
    "WorkerRecord",
    "mint_agent_token",
    "mint_room_token",
]
