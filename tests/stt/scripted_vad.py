"""A VAD that plays a fixed script of events on the loop clock, whatever audio it gets: the
stream adapter's timing tests decide exactly when speech starts, pauses and ends."""

from __future__ import annotations

import asyncio

from voxline._utils.aio import Chan
from voxline.audio import AudioFrame
from voxline.vad import VAD, VADCapabilities, VADEvent, VADStream


class ScriptedVAD(VAD):
    def __init__(self, script: list[tuple[float, VADEvent]], *, window: float = 0.032) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=window))
        self.script = script

    def stream(self) -> VADStream:
        return _ScriptedStream(self)


class _ScriptedStream(VADStream):
    async def _run(self, frames: Chan[AudioFrame]) -> None:
        vad = self._vad
        assert isinstance(vad, ScriptedVAD)
        loop = asyncio.get_running_loop()
        origin = loop.time()
        for at, ev in vad.script:
            await asyncio.sleep(max(0.0, origin + at - loop.time()))
            self._emit(ev)
        async for _ in frames:
            pass
