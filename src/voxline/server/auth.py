"""Who may join which room: the access token of a room connection, checked once per
connection, turned into the participant's identity, kind and permissions.

Refusals are HTTP errors with a JSON body `{"code": ..., "msg": ...}` (the Twirp error
shape): 401 for a missing, malformed, expired or wrongly signed token, 403 for a valid token
without the grant (no `roomJoin`, no room, or a room other than the one asked for).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from . import tokens
from .rooms import PARTICIPANT_KINDS, TRACK_SOURCES, Permissions

_SOURCES = {
    "camera": "camera",
    "microphone": "microphone",
    "screen_share": "screen_share",
    "screen_share_audio": "screen_share_audio",
}


class JoinDenied(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        return web.json_response({"code": self.code, "msg": self.message}, status=self.status)


@dataclass
class JoinGrant:
    room: str
    identity: str
    name: str = ""
    kind: str = "standard"
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    permissions: Permissions = field(default_factory=Permissions)
    agents: list[tuple[str, str]] = field(default_factory=list)
    """`roomConfig.agents` of the token: dispatched when this join creates the room."""


def request_token(request: web.Request) -> str:
    """The bearer token of an HTTP request or WebSocket handshake (header or query)."""
    try:
        return tokens.bearer_token(
            request.headers.get("Authorization"), request.query.get("access_token")
        )
    except tokens.AuthError as e:
        raise JoinDenied(401, "unauthenticated", str(e)) from e


def join_grant(
    api_key: str, api_secret: str, token: str, requested_room: str | None = None
) -> JoinGrant:
    try:
        claims = tokens.verify(api_key, api_secret, token)
    except tokens.AuthError as e:
        raise JoinDenied(401, "unauthenticated", str(e)) from e
    video = claims.video
    if video is None or not video.room_join:
        raise JoinDenied(403, "permission_denied", "the token lacks the roomJoin grant")
    if not video.room:
        raise JoinDenied(403, "permission_denied", "the token names no room")
    if requested_room and requested_room != video.room:
        raise JoinDenied(
            403,
            "permission_denied",
            f"the token is for room {video.room!r}, not {requested_room!r}",
        )
    if not claims.identity:
        raise JoinDenied(403, "permission_denied", "the token has no identity (sub)")
    kind = (claims.kind or "standard").lower()
    if kind not in PARTICIPANT_KINDS:
        raise JoinDenied(403, "permission_denied", f"unknown participant kind {claims.kind!r}")
    sources = tuple(
        _SOURCES.get(s.lower(), s.lower())
        for s in (video.can_publish_sources or [])
        if s.lower() in TRACK_SOURCES
    )
    permissions = Permissions(
        can_publish=video.can_publish is not False,
        can_subscribe=video.can_subscribe is not False,
        can_publish_data=video.can_publish_data is not False,
        can_update_metadata=bool(video.can_update_own_metadata),
        hidden=bool(video.hidden),
        can_publish_sources=sources,
    )
    agents: list[tuple[str, str]] = []
    if claims.room_config is not None:
        agents = [(a.agent_name, a.metadata) for a in claims.room_config.agents]
    return JoinGrant(
        room=video.room,
        identity=claims.identity,
        name=claims.name or "",
        kind=kind,
        metadata=claims.metadata or "",
        attributes=dict(claims.attributes or {}),
        permissions=permissions,
        agents=agents,
    )


def authorize_request(
    api_key: str, api_secret: str, request: web.Request, requested_room: str | None = None
) -> JoinGrant:
    return join_grant(api_key, api_secret, request_token(request), requested_room)
