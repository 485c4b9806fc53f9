"""Keeps a local LLM's prompt cache ahead of the conversation.

A model whose prompt cache lives in this process (an LLM with an async
`prefill(chat_ctx, tools)`, e.g. `voxline.plugins.llama`) reads a prompt on two cores at about
the speed it writes, some 30 ms a token for the 0.5B default. Every token read before the
user's turn ends is one the reply does not wait for, so the session asks for two kinds of
prefill: the history once the agent is done speaking (the next request then only reads the
user's words), and the words heard so far while the user still speaks (the cores are
otherwise idle then).

One prefill runs at a time. A newer request replaces one still waiting; a running one is
left to finish, since llama.cpp cannot stop reading a prompt midway. A failure only costs the
speed-up, so it is logged and forgotten.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from .._utils.aio import TaskSet
from ..llm.chat_context import ChatContext
from ..llm.tool_context import FunctionTool

__all__ = ["PromptPrefiller", "can_prefill"]

logger = logging.getLogger("voxline.prefill")


def can_prefill(llm: Any) -> bool:
    return inspect.iscoroutinefunction(getattr(llm, "prefill", None))


class PromptPrefiller:
    def __init__(self, tasks: TaskSet) -> None:
        self._tasks = tasks
        self._pending: tuple[Any, ChatContext, list[FunctionTool]] | None = None
        self._running = False
        self.completed = 0  # prefills that finished, for tests and diagnostics

    def request(self, llm: Any, chat_ctx: ChatContext, tools: list[FunctionTool]) -> None:
        if not can_prefill(llm):
            return
        self._pending = (llm, chat_ctx, tools)
        if not self._running:
            self._running = True
            self._tasks.create(self._drain(), name="llm_prefill")

    def cancel_pending(self) -> None:
        """Drop a prefill that has not started (the real request is about to go out)."""
        self._pending = None

    async def _drain(self) -> None:
        try:
            while self._pending is not None:
                llm, chat_ctx, tools = self._pending
                self._pending = None
                try:
                    await llm.prefill(chat_ctx, tools)
                    self.completed += 1
                except Exception as e:
                    logger.debug("prefilling the prompt cache failed: %r", e)
        finally:
            self._running = False
