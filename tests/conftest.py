"""Suite-wide checks: every chat history any test produced must be valid for a provider."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from voxline import AgentSession

pytest_plugins = ["voxline.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def histories_are_valid_for_providers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Convert each session's history (and each agent's chat context) to the OpenAI chat
    format after the test: a function call without its output, or an output without its
    call, fails the test that produced it."""
    sessions: weakref.WeakSet[AgentSession[Any]] = weakref.WeakSet()
    original = AgentSession.__init__

    def tracking_init(self: AgentSession[Any], *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        sessions.add(self)

    monkeypatch.setattr(AgentSession, "__init__", tracking_init)
    yield
    for session in list(sessions):
        session.history.to_openai()
        if session._agent is not None:
            session._agent._chat_ctx.to_openai()
