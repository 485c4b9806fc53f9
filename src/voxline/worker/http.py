"""The worker's HTTP endpoint for orchestrators: `/` answers 200 while the worker is
healthy (503 once it gave up reaching the server), `/worker` describes it as JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web


class HealthServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        healthy: Callable[[], bool],
        info: Callable[[], dict[str, Any]],
    ) -> None:
        self._host = host
        self._port = port
        self._healthy = healthy
        self._info = info
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/", self._health)
        app.router.add_get("/worker", self._worker)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def _health(self, request: web.Request) -> web.Response:
        if self._healthy():
            return web.Response(text="OK")
        return web.Response(status=503, text="worker is not connected to the server")

    async def _worker(self, request: web.Request) -> web.Response:
        return web.json_response(self._info())

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
