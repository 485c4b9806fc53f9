"""The server API subset jobs and tools call, in LiveKit's Twirp wire format (POST
`/twirp/livekit.<Service>/<Method>`, protobuf or JSON bodies, bearer JWT), so
`livekit.api.LiveKitAPI` works against the embedded dispatcher:

- RoomService: CreateRoom, ListRooms, DeleteRoom (what `ctx.delete_room()` calls)
- AgentDispatchService: CreateDispatch, ListDispatch, DeleteDispatch
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf.json_format import MessageToJson, Parse
from google.protobuf.message import DecodeError, Message
from livekit.protocol import agent_dispatch, room

from . import tokens

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

_Handler = Callable[[Any], Message]


class _TwirpError(Exception):
    def __init__(self, code: str, msg: str, status: int) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def _error(e: _TwirpError) -> web.Response:
    return web.json_response({"code": e.code, "msg": e.msg}, status=e.status)


def add_twirp_routes(app: web.Application, dispatcher: Dispatcher) -> None:
    methods: dict[tuple[str, str], tuple[type[Message], Callable[[Any], Message], str]] = {
        ("RoomService", "CreateRoom"): (room.CreateRoomRequest, _create_room(dispatcher), "create"),
        ("RoomService", "ListRooms"): (room.ListRoomsRequest, _list_rooms(dispatcher), "list"),
        ("RoomService", "DeleteRoom"): (room.DeleteRoomRequest, _delete_room(dispatcher), "create"),
        ("AgentDispatchService", "CreateDispatch"): (
            agent_dispatch.CreateAgentDispatchRequest,
            _create_dispatch(dispatcher),
            "admin",
        ),
        ("AgentDispatchService", "ListDispatch"): (
            agent_dispatch.ListAgentDispatchRequest,
            _list_dispatch(dispatcher),
            "admin",
        ),
        ("AgentDispatchService", "DeleteDispatch"): (
            agent_dispatch.DeleteAgentDispatchRequest,
            _delete_dispatch(dispatcher),
            "admin",
        ),
    }

    def handler(service: str, method: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        request_type, call, grant = methods[(service, method)]

        async def handle(request: web.Request) -> web.Response:
            try:
                _authorize(dispatcher, request, grant)
                body = await request.read()
                is_json = request.content_type == "application/json"
                try:
                    req = (
                        Parse(body.decode() or "{}", request_type())
                        if is_json
                        else request_type.FromString(body)
                    )
                except (DecodeError, ValueError) as e:
                    raise _TwirpError("malformed", f"bad request body: {e}", 400) from e
                result = call(req)
            except _TwirpError as e:
                return _error(e)
            if is_json:
                return web.Response(text=MessageToJson(result), content_type="application/json")
            return web.Response(
                body=result.SerializeToString(), content_type="application/protobuf"
            )

        return handle

    for service, method in methods:
        app.router.add_post(f"/twirp/livekit.{service}/{method}", handler(service, method))


def _authorize(dispatcher: Dispatcher, request: web.Request, grant: str) -> None:
    try:
        token = tokens.bearer_token(request.headers.get("Authorization"))
        claims = tokens.verify(dispatcher.api_key, dispatcher.api_secret, token)
    except tokens.AuthError as e:
        raise _TwirpError("unauthenticated", str(e), 401) from e
    video = claims.video
    allowed = video is not None and (
        (grant == "create" and bool(video.room_create))
        or (grant == "list" and bool(video.room_list))
        or (grant == "admin" and bool(video.room_admin))
    )
    if not allowed:
        raise _TwirpError("permission_denied", f"the token lacks the {grant} grant", 403)


def _create_room(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.CreateRoomRequest) -> Message:
        agents = [(a.agent_name, a.metadata) for a in req.agents]
        return d.create_room(req.name, metadata=req.metadata, agents=agents).to_proto()

    return call


def _list_rooms(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.ListRoomsRequest) -> Message:
        names = set(req.names)
        return room.ListRoomsResponse(
            rooms=[r.to_proto() for r in d.rooms.values() if not names or r.name in names]
        )

    return call


def _delete_room(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.DeleteRoomRequest) -> Message:
        if not d.delete_room(req.room):
            raise _TwirpError("not_found", f"room {req.room!r} not found", 404)
        return room.DeleteRoomResponse()

    return call


def _create_dispatch(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: agent_dispatch.CreateAgentDispatchRequest) -> Message:
        if not req.room:
            raise _TwirpError("invalid_argument", "room is required", 400)
        dispatch = d.create_dispatch(req.room, req.agent_name, req.metadata)
        result: Message = dispatch.to_proto(d.jobs)
        return result

    return call


def _list_dispatch(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: agent_dispatch.ListAgentDispatchRequest) -> Message:
        found = [
            x.to_proto(d.jobs)
            for x in d.list_dispatch(req.room)
            if not req.dispatch_id or x.id == req.dispatch_id
        ]
        return agent_dispatch.ListAgentDispatchResponse(agent_dispatches=found)

    return call


def _delete_dispatch(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: agent_dispatch.DeleteAgentDispatchRequest) -> Message:
        jobs = dict(d.jobs)
        dispatch = d.delete_dispatch(req.dispatch_id, req.room)
        if dispatch is None:
            raise _TwirpError("not_found", f"dispatch {req.dispatch_id!r} not found", 404)
        result: Message = dispatch.to_proto(jobs)
        return result

    return call
