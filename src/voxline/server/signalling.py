"""The JSON requests a connected participant sends, the same over the WebSocket and over
the WebRTC data channel (see PROTOCOL.md). Each is checked and applied by the room hub; a
request carrying a `cid` gets a `response` (or an `error`) with that `cid` back."""

from __future__ import annotations

import json
import logging
from typing import Any

from .rooms import CLIENT_INITIATED, RoomError, RoomHub, ServerParticipant

logger = logging.getLogger("voxline.server")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class ClientLeft(Exception):
    """The client said goodbye (`leave`): the connection ends with CLIENT_INITIATED."""

    reason = CLIENT_INITIATED


def parse(text: str) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE_BYTES:
        raise RoomError("invalid_argument", f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(text)
    except json.JSONDecodeError as e:
        raise RoomError("malformed", f"a signalling message is not JSON: {e}") from e
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise RoomError("malformed", 'a signalling message is a JSON object with a "type"')
    return message


def handle(hub: RoomHub, p: ServerParticipant, text: str) -> None:
    """Apply one request; errors are reported to the client, never raised (but `leave`)."""
    cid: Any = None
    try:
        message = parse(text)
        cid = message.get("cid")
        reply = _apply(hub, p, message)
    except RoomError as e:
        error: dict[str, Any] = {"type": "error", "code": e.code, "message": e.message}
        if cid is not None:
            error["cid"] = cid
        p.connection.send_message(error)
        return
    if cid is not None:
        p.connection.send_message({"type": "response", "cid": cid} | reply)


def _str(message: dict[str, Any], key: str, default: str | None = None) -> str:
    value = message.get(key, default)
    if not isinstance(value, str):
        raise RoomError("invalid_argument", f'"{key}" must be a string')
    return value


def _int(message: dict[str, Any], key: str) -> int:
    value = message.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RoomError("invalid_argument", f'"{key}" must be an integer')
    return value


def _apply(hub: RoomHub, p: ServerParticipant, message: dict[str, Any]) -> dict[str, Any]:
    if not p.connected:
        raise RoomError("not_connected", "the participant has left the room")
    kind = message["type"]
    if kind == "packet":
        destinations = message.get("destination_identities") or []
        if not isinstance(destinations, list):
            raise RoomError("invalid_argument", '"destination_identities" must be a list')
        if "packet" not in message:
            raise RoomError("invalid_argument", 'a "packet" message needs a "packet" field')
        sent = hub.route_packet(p, p.room, message["packet"], destinations)
        return {"delivered": sent}
    if kind == "publish_track":
        track = hub.publish_track(
            p,
            name=_str(message, "name", ""),
            kind=_str(message, "kind", "audio"),
            source=_str(message, "source", "unknown"),
            sample_rate=_int(message, "sample_rate"),
            num_channels=_int(message, "num_channels"),
        )
        return {"track": track.info()}
    if kind == "unpublish_track":
        hub.unpublish_track(p, _str(message, "track_sid"))
        return {}
    if kind == "mute_track":
        hub.set_muted(p, _str(message, "track_sid"), bool(message.get("muted", True)))
        return {}
    if kind == "subscribe":
        hub.set_subscribed(p, _str(message, "track_sid"), bool(message.get("subscribe", True)))
        return {}
    if kind == "update_participant":
        attributes = message.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise RoomError("invalid_argument", '"attributes" must be an object')
        name = message.get("name")
        metadata = message.get("metadata")
        hub.update_participant(
            p,
            attributes=attributes,
            name=_str(message, "name") if name is not None else None,
            metadata=_str(message, "metadata") if metadata is not None else None,
        )
        return {}
    if kind == "ping":
        p.connection.send_message({"type": "pong", "t": message.get("t")})
        return {}
    if kind == "leave":
        raise ClientLeft()
    raise RoomError("invalid_argument", f"unknown message type {kind!r}")
