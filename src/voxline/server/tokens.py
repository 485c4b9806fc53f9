"""Access tokens of the embedded server: verifying what workers and API clients present,
and minting the room-join token an accepted agent connects with. LiveKit's JWT format
(HS256, `video` grants), via livekit-api, so real LiveKit clients read them."""

from __future__ import annotations

import datetime

from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol import models


class AuthError(Exception):
    """A missing, malformed, expired or wrongly signed token, or one without the grant."""


def bearer_token(authorization: str | None, query_token: str | None = None) -> str:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    if query_token:
        return query_token
    raise AuthError("no access token")


def verify(api_key: str, api_secret: str, token: str) -> Claims:
    try:
        return api.TokenVerifier(api_key, api_secret).verify(token)
    except Exception as e:  # jwt raises a family of errors; all mean "not authorized"
        raise AuthError(f"invalid token: {e}") from e


def mint_agent_token(
    api_key: str,
    api_secret: str,
    *,
    room: str,
    identity: str,
    name: str = "",
    metadata: str = "",
    attributes: dict[str, str] | None = None,
    permissions: models.ParticipantPermission | None = None,
) -> str:
    """A room-join token for the agent participant a worker accepted a job as."""
    grants = api.VideoGrants(room_join=True, room=room, agent=True)
    if permissions is not None:
        grants.can_publish = permissions.can_publish
        grants.can_subscribe = permissions.can_subscribe
        grants.can_publish_data = permissions.can_publish_data
        grants.can_update_own_metadata = permissions.can_update_metadata
        grants.hidden = permissions.hidden
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_kind("agent")
        .with_grants(grants)
    )
    if name:
        token = token.with_name(name)
    if metadata:
        token = token.with_metadata(metadata)
    if attributes:
        token = token.with_attributes(dict(attributes))
    return token.to_jwt()


def mint_room_token(
    api_key: str,
    api_secret: str,
    *,
    room: str,
    identity: str,
    name: str = "",
    kind: str = "standard",
    metadata: str = "",
    attributes: dict[str, str] | None = None,
    can_publish: bool = True,
    can_subscribe: bool = True,
    can_publish_data: bool = True,
    can_update_metadata: bool = True,
    agents: list[tuple[str, str]] | None = None,
    ttl: datetime.timedelta = datetime.timedelta(hours=6),
) -> str:
    """A room-join token for a person, script or bridge (LiveKit's grant shape). `agents`
    ((agent_name, metadata) pairs) are dispatched when this token's join creates the room."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=can_publish,
        can_subscribe=can_subscribe,
        can_publish_data=can_publish_data,
        can_update_own_metadata=can_update_metadata,
    )
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_kind(kind)  # type: ignore[arg-type]
        .with_grants(grants)
        .with_ttl(ttl)
    )
    if name:
        token = token.with_name(name)
    if metadata:
        token = token.with_metadata(metadata)
    if attributes:
        token = token.with_attributes(dict(attributes))
    if agents:
        dispatches = [api.RoomAgentDispatch(agent_name=n, metadata=m) for n, m in agents]
        token = token.with_room_config(api.RoomConfiguration(agents=dispatches))
    return token.to_jwt()
