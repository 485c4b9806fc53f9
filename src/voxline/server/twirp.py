"""The server API subset jobs and tools call, in LiveKit's Twirp wire format (POST
`/twirp/livekit.<Service>/<Method>`, protobuf or JSON bodies, bearer JWT), so
`livekit.api.LiveKitAPI` works against the embedded dispatcher:

- RoomService: CreateRoom, ListRooms, DeleteRoom (what `ctx.delete_room()` calls), and with
  a room server mounted: ListParticipants, GetParticipant, RemoveParticipant,
  UpdateParticipant, MutePublishedTrack
- AgentDispatchService: CreateDispatch, ListDispatch, DeleteDispatch

Grants as on LiveKit: roomCreate, roomList, roomAdmin. A roomAdmin token naming a room
(`video.room`) only reaches that room.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf.json_format import MessageToJson, Parse
from google.protobuf.message import DecodeError, Message
from livekit.api.access_token import Claims
from livekit.protocol import agent_dispatch, models, room

from . import tokens
from .rooms import RoomError, ServerParticipant, ServerRoom, ServerTrack

if TYPE_CHECKING:
    from .dispatcher import Dispatcher
    from .room_server import RoomServer

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
        ("RoomService", "ListParticipants"): (
            room.ListParticipantsRequest,
            _list_participants(dispatcher),
            "admin",
        ),
        ("RoomService", "GetParticipant"): (
            room.RoomParticipantIdentity,
            _get_participant(dispatcher),
            "admin",
        ),
        ("RoomService", "RemoveParticipant"): (
            room.RoomParticipantIdentity,
            _remove_participant(dispatcher),
            "admin",
        ),
        ("RoomService", "UpdateParticipant"): (
            room.UpdateParticipantRequest,
            _update_participant(dispatcher),
            "admin",
        ),
        ("RoomService", "MutePublishedTrack"): (
            room.MuteRoomTrackRequest,
            _mute_track(dispatcher),
            "admin",
        ),
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
                claims = _authorize(dispatcher, request, grant)
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
                _check_room_scope(claims, grant, req)
                result = call(req)
            except _TwirpError as e:
                return _error(e)
            except RoomError as e:
                status = {"not_found": 404, "permission_denied": 403}.get(e.code, 400)
                return _error(_TwirpError(e.code, e.message, status))
            if is_json:
                return web.Response(text=MessageToJson(result), content_type="application/json")
            return web.Response(
                body=result.SerializeToString(), content_type="application/protobuf"
            )

        return handle

    for service, method in methods:
        app.router.add_post(f"/twirp/livekit.{service}/{method}", handler(service, method))


def _authorize(dispatcher: Dispatcher, request: web.Request, grant: str) -> Claims:
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
    return claims


def _check_room_scope(claims: Claims, grant: str, req: Any) -> None:
    """A roomAdmin token that names a room administers that room only."""
    scoped = claims.video.room if claims.video is not None else ""
    asked = getattr(req, "room", "")
    if grant == "admin" and scoped and isinstance(asked, str) and asked != scoped:
        raise _TwirpError(
            "permission_denied", f"the token is for room {scoped!r}, not {asked!r}", 403
        )


def _create_room(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.CreateRoomRequest) -> Message:
        if not req.name:
            raise _TwirpError("invalid_argument", "name is required", 400)
        agents = [(a.agent_name, a.metadata) for a in req.agents]
        rs = d.room_server
        if rs is not None:
            created = rs.create_room(
                req.name,
                metadata=req.metadata,
                agents=agents,
                max_participants=req.max_participants,
            )
            return _room_proto(created, req.max_participants)
        return d.create_room(req.name, metadata=req.metadata, agents=agents).to_proto()

    return call


def _list_rooms(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.ListRoomsRequest) -> Message:
        names = set(req.names)
        live = d.room_server.hub.rooms if d.room_server is not None else {}
        found = [_room_proto(r) for r in live.values()]
        found += [r.to_proto() for r in d.rooms.values() if r.name not in live]
        return room.ListRoomsResponse(rooms=[r for r in found if not names or r.name in names])

    return call


def _delete_room(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.DeleteRoomRequest) -> Message:
        rs = d.room_server
        deleted = rs.delete_room(req.room) if rs is not None else d.delete_room(req.room)
        if not deleted:
            raise _TwirpError("not_found", f"room {req.room!r} not found", 404)
        return room.DeleteRoomResponse()

    return call


def _room_proto(r: ServerRoom, max_participants: int = 0) -> models.Room:
    return models.Room(
        sid=r.sid,
        name=r.name,
        metadata=r.metadata,
        num_participants=len(r.participants),
        num_publishers=sum(1 for p in r.participants.values() if p.tracks),
        max_participants=r.max_participants or max_participants,
    )


_KINDS = {
    "standard": models.ParticipantInfo.Kind.STANDARD,
    "ingress": models.ParticipantInfo.Kind.INGRESS,
    "egress": models.ParticipantInfo.Kind.EGRESS,
    "sip": models.ParticipantInfo.Kind.SIP,
    "agent": models.ParticipantInfo.Kind.AGENT,
    "connector": models.ParticipantInfo.Kind.CONNECTOR,
}


def _track_proto(t: ServerTrack) -> models.TrackInfo:
    return models.TrackInfo(
        sid=t.sid,
        name=t.name,
        type=models.TrackType.AUDIO if t.kind == "audio" else models.TrackType.VIDEO,
        source=t.source.upper(),
        muted=t.muted,
    )


def _participant_proto(p: ServerParticipant) -> models.ParticipantInfo:
    perms = p.permissions
    return models.ParticipantInfo(
        sid=p.sid,
        identity=p.identity,
        name=p.name,
        state=models.ParticipantInfo.State.ACTIVE,
        metadata=p.metadata,
        attributes=p.attributes,
        kind=_KINDS[p.kind],
        tracks=[_track_proto(t) for t in p.tracks.values()],
        is_publisher=bool(p.tracks),
        permission=models.ParticipantPermission(
            can_publish=perms.can_publish,
            can_subscribe=perms.can_subscribe,
            can_publish_data=perms.can_publish_data,
            can_update_metadata=perms.can_update_metadata,
            hidden=perms.hidden,
        ),
    )


def _rooms_of(d: Dispatcher) -> RoomServer:
    if d.room_server is None:
        raise _TwirpError("unimplemented", "this dispatcher hosts no rooms", 501)
    return d.room_server


def _list_participants(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.ListParticipantsRequest) -> Message:
        rs = _rooms_of(d)
        found = rs.hub.rooms.get(req.room)
        if found is None:
            raise _TwirpError("not_found", f"room {req.room!r} not found", 404)
        return room.ListParticipantsResponse(
            participants=[_participant_proto(p) for p in found.participants.values()]
        )

    return call


def _get_participant(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.RoomParticipantIdentity) -> Message:
        return _participant_proto(_rooms_of(d).hub.participant(req.room, req.identity))

    return call


def _remove_participant(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.RoomParticipantIdentity) -> Message:
        _rooms_of(d).hub.remove_participant(req.room, req.identity)
        return room.RemoveParticipantResponse()

    return call


def _update_participant(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.UpdateParticipantRequest) -> Message:
        hub = _rooms_of(d).hub
        p = hub.participant(req.room, req.identity)
        hub.update_participant(
            p,
            attributes=dict(req.attributes) or None,
            name=req.name or None,
            metadata=req.metadata or None,
            by_admin=True,
        )
        return _participant_proto(p)

    return call


def _mute_track(d: Dispatcher) -> Callable[[Any], Message]:
    def call(req: room.MuteRoomTrackRequest) -> Message:
        hub = _rooms_of(d).hub
        p = hub.participant(req.room, req.identity)
        hub.set_muted(p, req.track_sid, req.muted)
        return room.MuteRoomTrackResponse(track=_track_proto(p.tracks[req.track_sid]))

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
