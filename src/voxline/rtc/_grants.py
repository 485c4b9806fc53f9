"""Reading a LiveKit-format access token (HS256 JWT with a `video` grant) at join time."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._types import ConnectError, ParticipantKind


@dataclass
class JoinGrant:
    identity: str
    room: str
    name: str = ""
    kind: ParticipantKind = ParticipantKind.STANDARD
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True


def verify_join(token: str, *, room: str, api_key: str, api_secret: str) -> JoinGrant:
    """The grant of a valid token for `room`; ConnectError naming what is wrong otherwise."""
    from livekit import api

    try:
        claims = api.TokenVerifier(api_key, api_secret).verify(token)
    except Exception as e:  # pyjwt raises a family of errors; all mean "refused"
        raise ConnectError(f"access token refused: {e}") from e
    video = claims.video
    if video is None or not video.room_join:
        raise ConnectError("access token refused: it has no roomJoin grant")
    if not video.room:
        raise ConnectError("access token refused: its grant names no room")
    if video.room != room:
        raise ConnectError(f"access token refused: it grants room {video.room!r}, not {room!r}")
    if not claims.identity:
        raise ConnectError("access token refused: it has no identity (sub)")
    kind = ParticipantKind.parse(claims.kind) if claims.kind else ParticipantKind.STANDARD
    if video.agent and kind == ParticipantKind.STANDARD:
        kind = ParticipantKind.AGENT
    attributes = claims.attributes or {}
    return JoinGrant(
        identity=claims.identity,
        room=room,
        name=claims.name or "",
        kind=kind,
        metadata=claims.metadata or "",
        attributes={str(k): str(v) for k, v in attributes.items()},
        can_publish=video.can_publish is not False,
        can_subscribe=video.can_subscribe is not False,
        can_publish_data=video.can_publish_data is not False,
    )
