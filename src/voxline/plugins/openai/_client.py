"""The `openai` client and its errors in voxline's terms.

voxline retries model calls itself (`APIConnectOptions`), so the client's own retries are
off, and every error of the `openai` package becomes a voxline `APIError` that says whether
trying again may help: connection problems, timeouts, 429 and 5xx are retryable; a bad
request, a wrong key or an unknown model is not.
"""

from __future__ import annotations

import os
from typing import Any

from ..._exceptions import APIConnectionError, APIError, APIStatusError, APITimeoutError

__all__ = ["API_KEY_ENV", "MissingAPIKeyError", "make_client", "map_error"]

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
# OpenAI-compatible servers on one's own machine usually take any key; the client needs one
_PLACEHOLDER_KEY = "no-key-needed"


class MissingAPIKeyError(ValueError):
    """No API key was given and $OPENAI_API_KEY is not set."""


def make_client(*, api_key: str | None, base_url: str | None, client: Any = None) -> Any:
    """An `openai.AsyncOpenAI`. Without `base_url` (OpenAI itself) a key is required: the
    argument or $OPENAI_API_KEY; with one, a missing key is replaced by a placeholder."""
    if client is not None:
        return client
    import openai

    key = api_key or os.environ.get(API_KEY_ENV)
    url = base_url or os.environ.get(BASE_URL_ENV) or None
    if not key:
        if url is None:
            raise MissingAPIKeyError(
                f"the OpenAI plugin needs an API key: set {API_KEY_ENV} or pass api_key=, "
                "or pass base_url= for an OpenAI-compatible server that needs none"
            )
        key = _PLACEHOLDER_KEY
    return openai.AsyncOpenAI(api_key=key, base_url=url, max_retries=0)


def map_error(label: str, error: Exception) -> APIError:
    """The voxline error for an exception raised by the `openai` package."""
    import openai

    if isinstance(error, openai.APITimeoutError):
        return APITimeoutError(f"{label}: request timed out")
    if isinstance(error, openai.APIConnectionError):
        return APIConnectionError(f"{label}: cannot reach the server: {error}")
    if isinstance(error, openai.APIStatusError):
        message = _message_of(error)
        if error.status_code == 401:
            message += f" (check {API_KEY_ENV} or api_key=)"
        return APIStatusError(f"{label}: {message}", status_code=error.status_code)
    if isinstance(error, openai.OpenAIError):
        return APIConnectionError(f"{label}: {error}", retryable=False)
    return APIConnectionError(f"{label}: {error!r}", retryable=False)


def _message_of(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(error, "message", None) or error)
