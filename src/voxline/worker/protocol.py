"""The worker side of LiveKit's agent protocol: livekit-protocol `WorkerMessage` /
`ServerMessage` protobufs over a WebSocket to `<ws_url>/agent`.

The connection registers (the server's `RegisterWorkerResponse` must come first), reports
the worker's status every 2.5 s, forwards server requests to its handler, and sends
what the handler queues. When the socket drops it reconnects with exponential backoff,
re-registers and reports the jobs still running (`MigrateJobRequest`); job updates
queued meanwhile are delivered then. After `max_retry` failed attempts in a row it gives
up with `ConnectionFailedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Protocol
from urllib.parse import urlparse

import aiohttp
from livekit import api
from livekit.protocol import agent

from .._utils.aio import cancel_and_wait

logger = logging.getLogger("voxline.worker")

UPDATE_STATUS_INTERVAL = 2.5
PING_INTERVAL = 10.0
HEARTBEAT_INTERVAL = 30.0
REGISTER_TIMEOUT = 10.0
RETRY_BASE_DELAY = 0.5
RETRY_MAX_DELAY = 10.0
FLUSH_TIMEOUT = 2.0


class ConnectionFailedError(RuntimeError):
    """The worker could not (re)connect to the server within `max_retry` attempts."""


class WorkerHandler(Protocol):
    """What the connection asks of the worker and tells it."""

    def registration(self) -> agent.RegisterWorkerRequest: ...

    def on_registered(self, response: agent.RegisterWorkerResponse) -> None: ...

    def on_disconnected(self) -> None: ...

    def on_availability(self, request: agent.AvailabilityRequest) -> None: ...

    def on_assignment(self, assignment: agent.JobAssignment) -> None: ...

    def on_termination(self, termination: agent.JobTermination) -> None: ...

    def worker_status(self) -> agent.UpdateWorkerStatus: ...

    def active_job_ids(self) -> list[str]: ...


def agent_url(ws_url: str) -> str:
    """`<ws_url>/agent`, with http(s) turned into ws(s)."""
    parsed = urlparse(ws_url)
    scheme = (
        parsed.scheme.replace("http", "ws", 1)
        if parsed.scheme.startswith("http")
        else (parsed.scheme or "ws")
    )
    return f"{scheme}://{parsed.netloc}{parsed.path.rstrip('/')}/agent"


def worker_token(api_key: str, api_secret: str) -> str:
    """The bearer JWT of a worker: the `agent` video grant, signed with the API secret."""
    return api.AccessToken(api_key, api_secret).with_grants(api.VideoGrants(agent=True)).to_jwt()


class WorkerConnection:
    def __init__(
        self,
        *,
        ws_url: str,
        api_key: str,
        api_secret: str,
        handler: WorkerHandler,
        max_retry: int = 16,
        http_proxy: str | None = None,
    ) -> None:
        self._url = agent_url(ws_url)
        self._api_key = api_key
        self._api_secret = api_secret
        self._handler = handler
        self._max_retry = max_retry
        self._http_proxy = http_proxy
        self._outbox: deque[agent.WorkerMessage] = deque()
        self._outbox_wake = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._status_wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse[bool] | None = None
        self._registered = False
        self._send_lock = asyncio.Lock()
        self._pings: dict[int, float] = {}
        self.rtt: float | None = None

    @property
    def connected(self) -> bool:
        return self._registered and self._ws is not None and not self._ws.closed

    def send(self, msg: agent.WorkerMessage) -> None:
        """Queue `msg`; it goes out now if connected, else after the next registration."""
        self._outbox.append(msg)
        self._outbox_empty.clear()
        self._outbox_wake.set()

    def send_status_now(self) -> None:
        self._status_wake.set()

    async def run(self) -> None:
        """Connect and serve until `aclose()`; raises ConnectionFailedError."""
        async with aiohttp.ClientSession() as session:
            failures = 0
            while not self._closing.is_set():
                try:
                    await self._connect_and_serve(session)
                    failures = 0
                except Exception as e:
                    if self._closing.is_set():
                        break
                    if self._registered:
                        failures = 0
                    if failures >= self._max_retry:
                        raise ConnectionFailedError(
                            f"could not connect to {self._url} after {failures} attempts: {e}"
                        ) from e
                    delay = min(RETRY_BASE_DELAY * (2**failures), RETRY_MAX_DELAY)
                    failures += 1
                    logger.warning(
                        "worker connection to %s failed (%s); retry %d/%d in %.1f s",
                        self._url,
                        e or type(e).__name__,
                        failures,
                        self._max_retry,
                        delay,
                    )
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), delay)
                finally:
                    if self._registered:
                        self._registered = False
                        self._handler.on_disconnected()

    async def _connect_and_serve(self, session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {worker_token(self._api_key, self._api_secret)}"}
        ws = await session.ws_connect(
            self._url,
            headers=headers,
            heartbeat=HEARTBEAT_INTERVAL,
            autoping=True,
            proxy=self._http_proxy or None,
        )
        self._ws = ws
        try:
            register = agent.WorkerMessage(register=self._handler.registration())
            await ws.send_bytes(register.SerializeToString())
            first = await ws.receive(timeout=REGISTER_TIMEOUT)
            if first.type != aiohttp.WSMsgType.BINARY:
                raise ConnectionError(f"registration refused ({first.type.name}: {first.data})")
            msg = agent.ServerMessage.FromString(first.data)
            if msg.WhichOneof("message") != "register":
                raise ConnectionError("the server's first message was not a register response")
            self._registered = True
            self._handler.on_registered(msg.register)
            job_ids = self._handler.active_job_ids()
            if job_ids:
                self._outbox.appendleft(
                    agent.WorkerMessage(migrate_job=agent.MigrateJobRequest(job_ids=job_ids))
                )
            await self._serve(ws)
        finally:
            self._ws = None
            await ws.close()

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        tasks = [
            asyncio.ensure_future(self._recv_loop(ws)),
            asyncio.ensure_future(self._send_loop(ws)),
            asyncio.ensure_future(self._status_loop(ws)),
            asyncio.ensure_future(self._ping_loop(ws)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raise what broke the connection
        finally:
            await cancel_and_wait(*tasks)

    async def _recv_loop(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        while True:
            msg = await ws.receive()
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.ERROR,
            ):
                if self._closing.is_set():
                    return
                raise ConnectionError(f"the server closed the connection ({ws.close_code})")
            if msg.type != aiohttp.WSMsgType.BINARY:
                logger.warning("ignoring a %s message from the server", msg.type.name)
                continue
            server_msg = agent.ServerMessage.FromString(msg.data)
            which = server_msg.WhichOneof("message")
            if which == "availability":
                self._handler.on_availability(server_msg.availability)
            elif which == "assignment":
                self._handler.on_assignment(server_msg.assignment)
            elif which == "termination":
                self._handler.on_termination(server_msg.termination)
            elif which == "pong":
                sent = self._pings.pop(server_msg.pong.last_timestamp, None)
                if sent is not None:
                    self.rtt = asyncio.get_running_loop().time() - sent
            elif which == "go_away":
                logger.info("the server asked the worker to go away: reconnecting")
                raise ConnectionError("server sent go_away")

    async def _send_loop(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        while True:
            while self._outbox:
                msg = self._outbox[0]
                await self._send(ws, msg)
                self._outbox.popleft()
            self._outbox_empty.set()
            self._outbox_wake.clear()
            await self._outbox_wake.wait()

    async def _status_loop(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        while True:
            msg = agent.WorkerMessage(update_worker=self._handler.worker_status())
            await self._send(ws, msg)
            self._status_wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._status_wake.wait(), UPDATE_STATUS_INTERVAL)

    async def _ping_loop(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        while True:
            await asyncio.sleep(PING_INTERVAL)
            # the protocol's timestamps are wall-clock milliseconds; the RTT uses the loop clock
            stamp = int(time.time() * 1000)
            self._pings = {stamp: asyncio.get_running_loop().time()}
            await self._send(ws, agent.WorkerMessage(ping=agent.WorkerPing(timestamp=stamp)))

    async def _send(
        self, ws: aiohttp.ClientWebSocketResponse[bool], msg: agent.WorkerMessage
    ) -> None:
        async with self._send_lock:
            await ws.send_bytes(msg.SerializeToString())

    async def aclose(self) -> None:
        """Deliver what is queued (briefly), then close the socket."""
        if self._closing.is_set():
            return
        if self.connected and self._outbox:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._outbox_empty.wait(), FLUSH_TIMEOUT)
        self._closing.set()
        ws = self._ws
        if ws is not None:
            await ws.close()
