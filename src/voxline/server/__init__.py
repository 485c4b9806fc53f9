"""voxline.server: the embedded server side of LiveKit's agent protocol.

`Dispatcher` registers agent workers over `/agent` and dispatches jobs to them; the room
server mounts its `app`, or `await Dispatcher(key, secret).start(host, port)` runs it
standalone.
"""

from .dispatcher import Dispatcher
from .state import DispatchRecord, JobRecord, ProtocolMessage, RoomRecord, WorkerRecord
from .tokens import AuthError, mint_agent_token

__all__ = [
    "AuthError",
    "DispatchRecord",
    "Dispatcher",
    "JobRecord",
    "ProtocolMessage",
    "RoomRecord",
    "WorkerRecord",
    "mint_agent_token",
]
