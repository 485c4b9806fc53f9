"""Typed errors raised by model calls, so the session can tell retryable failures apart."""

from __future__ import annotations


class VoxlineError(Exception):
    """Base class of every error voxline raises on purpose."""


class APIError(VoxlineError):
    """A model call failed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True, body: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.body = body


class APIConnectionError(APIError):
    def __init__(self, message: str = "connection error", *, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)


class APITimeoutError(APIConnectionError):
    def __init__(self, message: str = "request timed out", *, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)


class APIStatusError(APIError):
    def __init__(
        self, message: str, *, status_code: int = -1, retryable: bool | None = None
    ) -> None:
        if retryable is None:
            retryable = status_code < 0 or status_code >= 500 or status_code == 429
        super().__init__(f"{message} (status {status_code})", retryable=retryable)
        self.status_code = status_code


class SessionClosedError(VoxlineError):
    """A method was called on an AgentSession that is closed or closing."""
