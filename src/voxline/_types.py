"""Sentinels and connection options shared by every model slot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, TypeGuard, TypeVar, Union

_T = TypeVar("_T")


class NotGiven:
    """Marks an option the caller did not pass, so `None` can keep its meaning of "disabled"."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()
NotGivenOr = Union[_T, NotGiven]


def is_given(value: _T | NotGiven) -> TypeGuard[_T]:
    return not isinstance(value, NotGiven)


@dataclass(frozen=True)
class APIConnectOptions:
    """How hard to try a model call before giving up: retries, spacing and a per-attempt timeout."""

    max_retry: int = 3
    retry_interval: float = 2.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.max_retry < 0:
            raise ValueError(f"max_retry must be >= 0, got {self.max_retry}")
        if self.retry_interval < 0:
            raise ValueError(f"retry_interval must be >= 0, got {self.retry_interval}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {self.timeout}")

    def interval_for_retry(self, attempt: int) -> float:
        """The first retry is immediate: most failures are transient connection resets."""
        return 0.1 if attempt == 0 else self.retry_interval


DEFAULT_API_CONNECT_OPTIONS: Final = APIConnectOptions()


@dataclass(frozen=True)
class SessionConnectOptions:
    stt_conn_options: APIConnectOptions = field(default_factory=APIConnectOptions)
    llm_conn_options: APIConnectOptions = field(default_factory=APIConnectOptions)
    tts_conn_options: APIConnectOptions = field(default_factory=APIConnectOptions)
    max_unrecoverable_errors: int = 3
