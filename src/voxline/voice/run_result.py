"""RunResult: what one `session.run(user_input=...)` caused, for text-mode tests."""

from __future__ import annotations

import asyncio
from typing import Any

from ..llm.chat_context import ChatItem
from .speech import SpeechHandle


class RunResult:
    def __init__(self, *, user_input: str, output_type: type[Any] | None = None) -> None:
        self.user_input = user_input
        self._output_type = output_type
        self.items: list[ChatItem] = []
        self._pending: set[asyncio.Future[Any]] = set()
        self._final_output: Any = None
        self._has_output = False
        self._changed = asyncio.Event()

    # the session calls these while the run lasts
    def _on_item(self, item: ChatItem) -> None:
        self.items.append(item)

    def _watch_speech(self, handle: SpeechHandle) -> None:
        fut = asyncio.ensure_future(handle.wait_for_playout())
        self._watch_task(fut)

    def _watch_task(self, task: asyncio.Future[Any]) -> None:
        self._pending.add(task)
        self._changed.set()

    def _on_task_result(self, task: Any, result: Any) -> None:
        self._final_output = result
        self._has_output = True

    async def _wait_done(self) -> None:
        while True:
            pending = {t for t in self._pending if not t.done()}
            if not pending:
                return
            self._changed.clear()
            changed = asyncio.ensure_future(self._changed.wait())
            await asyncio.wait([*pending, changed], return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()

    @property
    def final_output(self) -> Any:
        if not self._has_output:
            raise RuntimeError("the run produced no final output")
        return self._final_output
