"""Tokens for a LiveKit server, minted with livekit-api: the grants a voxline agent and its
users need, and the same tokens accepted by voxline's own rooms (one token format for both)."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from livekit import api as lkapi

from voxline.rtc._grants import verify_join
from voxline.rtc._types import ConnectError, ParticipantKind

KEY, SECRET = "devkey", "a-secret-of-at-least-32-characters!!"


def _claims(jwt: str) -> dict[str, object]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def user_token(room: str = "support", *, kind: str = "standard", ttl_s: int = 600) -> str:
    return (
        lkapi.AccessToken(KEY, SECRET)
        .with_identity("caller-1")
        .with_name("Caller")
        .with_kind(kind)  # type: ignore[arg-type]
        .with_attributes({"sip.phoneNumber": "+15550100"})
        .with_grants(
            lkapi.VideoGrants(
                room_join=True,
                room=room,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
            )
        )
        .with_room_config(
            lkapi.RoomConfiguration(agents=[lkapi.RoomAgentDispatch(agent_name="assistant")])
        )
        .with_ttl(datetime.timedelta(seconds=ttl_s))
        .to_jwt()
    )


def test_a_user_token_has_livekits_grant_shape() -> None:
    claims = _claims(user_token())
    assert claims["sub"] == "caller-1" and claims["iss"] == KEY
    assert claims["video"] == {
        "roomJoin": True,
        "room": "support",
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
    }
    assert claims["roomConfig"] == {"agents": [{"agentName": "assistant"}]}
    verified = lkapi.TokenVerifier(KEY, SECRET).verify(user_token())
    assert verified.identity == "caller-1"
    assert verified.room_config is not None
    assert verified.room_config.agents[0].agent_name == "assistant"


def test_a_worker_token_carries_the_agent_grant() -> None:
    worker = lkapi.AccessToken(KEY, SECRET).with_grants(lkapi.VideoGrants(agent=True)).to_jwt()
    video = _claims(worker)["video"]
    assert isinstance(video, dict) and video["agent"] is True and "roomJoin" not in video


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("standard", ParticipantKind.STANDARD),
        ("sip", ParticipantKind.SIP),
        ("agent", ParticipantKind.AGENT),
    ],
)
def test_voxline_rooms_accept_livekit_tokens(kind: str, expected: ParticipantKind) -> None:
    grant = verify_join(user_token(kind=kind), room="support", api_key=KEY, api_secret=SECRET)
    assert (grant.identity, grant.name, grant.kind) == ("caller-1", "Caller", expected)
    assert grant.attributes == {"sip.phoneNumber": "+15550100"}
    assert grant.can_publish and grant.can_subscribe and grant.can_publish_data


@pytest.mark.parametrize(
    ("token", "room", "secret", "message"),
    [
        (lambda: user_token("other"), "support", SECRET, "grants room 'other'"),
        (lambda: user_token(), "support", "another-secret-of-32-characters!!!!", "Signature"),
        (lambda: user_token(ttl_s=-60), "support", SECRET, "expired"),
    ],
)
def test_tokens_for_another_room_or_badly_signed_or_expired_are_refused(
    token: object, room: str, secret: str, message: str
) -> None:
    with pytest.raises(ConnectError, match=message):
        verify_join(token(), room=room, api_key=KEY, api_secret=secret)  # type: ignore[operator]
