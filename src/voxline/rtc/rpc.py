"""RPC between participants: errors with LiveKit's codes and what a method handler receives."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

MAX_PAYLOAD_BYTES = 15_000
"""Requests and responses are limited to 15 KB, as on LiveKit, so agents behave alike on
every backend."""

DEFAULT_RESPONSE_TIMEOUT = 15.0
ACK_TIMEOUT = 2.0
"""A recipient that does not acknowledge within this time is considered unreachable."""


class RpcError(Exception):
    """An RPC failed: raised by `perform_rpc`, and raised by handlers to answer with an error.

    Any other exception a handler raises reaches the caller as APPLICATION_ERROR, without
    its details (they may hold secrets)."""

    class ErrorCode(enum.IntEnum):
        APPLICATION_ERROR = 1500
        CONNECTION_TIMEOUT = 1501
        RESPONSE_TIMEOUT = 1502
        RECIPIENT_DISCONNECTED = 1503
        RESPONSE_PAYLOAD_TOO_LARGE = 1504
        SEND_FAILED = 1505
        UNSUPPORTED_METHOD = 1400
        RECIPIENT_NOT_FOUND = 1401
        REQUEST_PAYLOAD_TOO_LARGE = 1402
        UNSUPPORTED_SERVER = 1403
        UNSUPPORTED_VERSION = 1404

    _MESSAGES = {
        ErrorCode.APPLICATION_ERROR: "Application error in method handler",
        ErrorCode.CONNECTION_TIMEOUT: "Connection timeout",
        ErrorCode.RESPONSE_TIMEOUT: "Response timeout",
        ErrorCode.RECIPIENT_DISCONNECTED: "Recipient disconnected",
        ErrorCode.RESPONSE_PAYLOAD_TOO_LARGE: "Response payload too large",
        ErrorCode.SEND_FAILED: "Failed to send",
        ErrorCode.UNSUPPORTED_METHOD: "Method not supported at destination",
        ErrorCode.RECIPIENT_NOT_FOUND: "Recipient not found",
        ErrorCode.REQUEST_PAYLOAD_TOO_LARGE: "Request payload too large",
        ErrorCode.UNSUPPORTED_SERVER: "RPC not supported by server",
        ErrorCode.UNSUPPORTED_VERSION: "Unsupported RPC version",
    }

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(f"{message} (RPC error {code})")
        self._code = int(code)
        self._message = message
        self._data = data

    @property
    def code(self) -> int:
        return self._code

    @property
    def message(self) -> str:
        return self._message

    @property
    def data(self) -> str | None:
        return self._data

    @classmethod
    def _built_in(cls, code: RpcError.ErrorCode, data: str | None = None) -> RpcError:
        return cls(code, cls._MESSAGES[code], data)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self._code, "message": self._message, "data": self._data}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RpcError:
        return cls(int(d["code"]), str(d.get("message", "")), d.get("data"))


@dataclass
class RpcInvocationData:
    """What a registered method handler is called with."""

    request_id: str
    caller_identity: str
    payload: str
    response_timeout: float
    method: str = ""


def check_payload(payload: str, code: RpcError.ErrorCode) -> None:
    if not isinstance(payload, str):
        raise TypeError(f"RPC payloads are strings, got {type(payload).__name__}")
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise RpcError._built_in(code)
