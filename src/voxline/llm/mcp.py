"""MCP (Model Context Protocol) client: a server's tools become tools the model can call.

Built on the official ``mcp`` package (``pip install 'voxline[mcp]'``), imported lazily so
``import voxline`` works without it. Both the 1.x and the 2.x lines of the SDK are supported:
only version-neutral entry points are used, and wire data is read through
``model_dump(by_alias=True)`` (1.x fields are camelCase, 2.x snake_case; the wire is the same).

Why a background task per connection: the SDK's transports (``stdio_client``,
``streamable_http_client``...) and ``ClientSession`` are anyio context managers that own
task groups, and a task group must be exited by the task that entered it. An agent session
connects in one task (agent start) and disconnects in another (session end), so each server
gets one long-lived *runner* task that enters the transport and the session, waits for the
close request, and exits them itself. Requests (``list_tools``/``call_tool``) are plain
anyio stream traffic and may come from any task on the same loop.

Why every request is raced against a deadline and against the runner's end: a server that
hangs, crashes or drops the connection must become a :class:`~voxline.llm.ToolError` the
model can read, promptly, never a tool call that waits forever. The SDK's own behaviour here
differs between versions (some leave a request pending when the transport dies), so the
guarantee is enforced here rather than relied on.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import logging
import os
import shlex
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlparse

from typing_extensions import Self

from .tool_context import FunctionTool, FunctionToolInfo, ToolError, Toolset

if TYPE_CHECKING:
    from mcp import ClientSession

__all__ = [
    "MCPConnectionError",
    "MCPServer",
    "MCPServerHTTP",
    "MCPServerStdio",
    "MCPToolset",
]

logger = logging.getLogger("voxline.mcp")

_T = TypeVar("_T")

#: JSON-RPC code the SDK uses for "the connection closed while a request was pending".
_CONNECTION_CLOSED = -32000
#: Least time allowed for starting/connecting and the handshake: spawning a server (Python
#: imports, ``npx`` fetching a package) routinely takes longer than answering a request.
_MIN_CONNECT_TIMEOUT = 10.0
#: How long ``aclose()`` lets the SDK shut a server down politely before cancelling it; the
#: stdio transport alone may wait ~2 s for a process to exit before terminating it.
_CLOSE_TIMEOUT = 6.0
_INSTALL_HINT = "install it with `pip install 'voxline[mcp]'`"


class MCPConnectionError(RuntimeError):
    """An MCP server could not be started, reached, or did not complete the handshake (or
    failed to list its tools). The message names the command or URL, so a misconfigured
    server is obvious from the log of the agent that could not start it."""


def _import_mcp() -> ModuleType:
    """Import the SDK, turning its absence into a message that says what to install."""
    try:
        return importlib.import_module("mcp")
    except ImportError as e:
        raise ImportError(
            f"MCP support needs the `mcp` package, which is not installed; {_INSTALL_HINT}"
        ) from e


class _ConnectionLost(Exception):
    """Internal: the server went away before answering."""


class _TimedOut(Exception):
    """Internal: the server did not answer within the deadline."""


def _describe(exc: BaseException) -> str:
    """A one-line, human readable cause; unwraps the exception groups anyio raises."""
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, (list, tuple)) and inner and isinstance(inner[0], BaseException):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _error_code(exc: BaseException) -> int | None:
    """The JSON-RPC code of an ``McpError`` (1.x) / ``MCPError`` (2.x), else None."""
    code = getattr(getattr(exc, "error", None), "code", None)
    return code if isinstance(code, int) else None


def _is_connection_loss(exc: BaseException) -> bool:
    """Whether an exception from a request means the transport is gone (vs. an answer)."""
    if _error_code(exc) == _CONNECTION_CLOSED:
        return True
    # Streamable HTTP: the server forgot our session (it restarted). Every later request
    # would fail the same way; only a new handshake helps, so treat it as a lost connection.
    if str(getattr(getattr(exc, "error", None), "message", "")) == "Session terminated":
        return True
    if isinstance(exc, (ConnectionError, EOFError)):
        return True
    try:
        import anyio
    except ImportError:  # pragma: no cover - anyio comes with mcp
        return False
    return isinstance(
        exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)
    )


def _content_to_text(result: dict[str, Any]) -> str:
    """Flatten a ``CallToolResult`` (wire form) to the text the model reads.

    Text blocks are joined by newlines; embedded text resources contribute their text;
    binary blocks (images, audio, blobs) are summarised rather than dumped as base64, which
    is useless to a language model and would flood its context. A result with only
    ``structuredContent`` is rendered as JSON.
    """
    parts: list[str] = []
    for block in result.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "resource":
            resource = block.get("resource") or {}
            if "text" in resource:
                parts.append(str(resource["text"]))
            else:
                mime = resource.get("mimeType") or "binary"
                parts.append(f"[{mime} resource {resource.get('uri', '')} omitted]".strip())
        elif kind in ("image", "audio"):
            parts.append(f"[{block.get('mimeType') or kind} {kind} omitted]")
        elif kind == "resource_link":
            parts.append(f"[resource link: {block.get('uri', '')}]")
        else:
            parts.append(json.dumps(block, default=str))
    if not parts and result.get("structuredContent") is not None:
        return json.dumps(result["structuredContent"], default=str)
    return "\n".join(parts)


class MCPServer(ABC):
    """A connection to one MCP server; subclasses choose the transport.

    Use ``async with server:`` or ``initialize()``/``aclose()``. ``list_tools()`` returns
    raw :class:`FunctionTool` objects (schema = the server's ``inputSchema``) whose calls go
    through this connection, so they keep working after a reconnect.
    """

    def __init__(self, *, name: str, timeout: float, connect_timeout: float | None) -> None:
        if timeout <= 0 or (connect_timeout is not None and connect_timeout <= 0):
            raise ValueError("timeouts must be positive")
        self._mcp = _import_mcp()
        self._name = name
        self._timeout = float(timeout)
        self._connect_timeout = (
            float(connect_timeout)
            if connect_timeout is not None
            else max(self._timeout, _MIN_CONNECT_TIMEOUT)
        )
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._session: ClientSession | None = None
        self._runner: asyncio.Task[None] | None = None
        self._close_requested: asyncio.Event | None = None
        self._ended: asyncio.Event | None = None
        self._ready: asyncio.Future[ClientSession] | None = None
        self._last_transport_error: BaseException | None = None
        self._tools_cache: list[FunctionTool] | None = None

    # ------------------------------------------------------------------ subclass API

    @abstractmethod
    async def _open_transport(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        """Enter the SDK transport on ``stack``; return its (read, write) streams."""

    @abstractmethod
    def _target(self) -> str:
        """What was being connected to, for error messages (command line or URL)."""

    def _fatal_during_handshake(self, exc: BaseException) -> bool:
        """Whether a transport error reported before the handshake ends it at once (HTTP
        errors do; a stray non-JSON line on a stdio server's stdout does not)."""
        return False

    def _error_detail(self) -> str:
        """Extra context for connection errors (e.g. the HTTP status the SDK hides)."""
        return ""

    # ------------------------------------------------------------------ public API

    @property
    def name(self) -> str:
        """Used in every error message, so the model and the logs can tell servers apart."""
        return self._name

    @property
    def timeout(self) -> float:
        """Seconds to wait for each request (listing tools, calling one)."""
        return self._timeout

    @property
    def connect_timeout(self) -> float:
        """Seconds allowed to start/reach the server and complete the handshake."""
        return self._connect_timeout

    @property
    def initialized(self) -> bool:
        """True while connected: after ``initialize()``, until ``aclose()`` or the server
        goes away (then ``initialize()`` may be called again to reconnect)."""
        return self._session is not None and self._ended is not None and not self._ended.is_set()

    async def initialize(self) -> None:
        """Start/connect to the server and complete the MCP handshake. Idempotent.

        Raises :class:`MCPConnectionError` (naming the command or URL) if the server cannot
        be started or reached, or does not finish the handshake within ``connect_timeout``.
        """
        async with self._get_lock():
            if self.initialized:
                return
            await self._stop_runner()  # a previous connection that died: reap it first
            loop = asyncio.get_running_loop()
            self._ready = loop.create_future()
            self._close_requested = asyncio.Event()
            self._ended = asyncio.Event()
            self._last_transport_error = None
            self._tools_cache = None
            self._runner = asyncio.create_task(
                self._run(self._ready, self._close_requested, self._ended),
                name=f"voxline-mcp:{self._name}",
            )
            try:
                done, _ = await asyncio.wait({self._ready}, timeout=self._connect_timeout)
                if not done:
                    detail = self._last_transport_error
                    raise MCPConnectionError(
                        f"MCP server {self._name!r} ({self._target()}) did not complete the "
                        f"handshake within {self._connect_timeout} s"
                        + (f" (last error: {_describe(detail)})" if detail else "")
                    )
                self._session = self._ready.result()
            except BaseException:
                await self._stop_runner()
                raise

    async def list_tools(self) -> list[FunctionTool]:
        """The server's tools as raw :class:`FunctionTool` objects; cached until
        ``invalidate_cache()``, a reconnect, or the server announcing a changed list."""
        if self._tools_cache is not None:
            return list(self._tools_cache)
        session = self._require_session()
        tools: list[FunctionTool] = []
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            try:
                result = await self._request(self._list_page(session, cursor))
            except _TimedOut:
                raise MCPConnectionError(
                    f"MCP server {self._name!r} did not list its tools within {self._timeout} s"
                ) from None
            except _ConnectionLost as e:
                raise MCPConnectionError(
                    f"MCP server {self._name!r} closed the connection while listing its tools"
                ) from e.__cause__
            except Exception as e:
                raise MCPConnectionError(
                    f"MCP server {self._name!r} failed to list its tools: {_describe(e)}"
                ) from e
            for spec in result.get("tools") or []:
                tools.append(self._make_tool(spec))
            cursor = result.get("nextCursor")
            if not cursor or cursor in seen_cursors:
                break
            seen_cursors.add(cursor)
        self._tools_cache = tools
        return list(tools)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        """Call a tool and return its text output.

        Every failure is a :class:`ToolError` with a message meant for the model: the
        tool's own error text (``isError`` results), a protocol error, a timeout, or the
        server going away. It never waits longer than ``timeout``.
        """
        session = self._session
        if session is None or not self.initialized:
            raise ToolError(
                f"MCP server {self._name!r} is not connected, so tool {name!r} could not run"
            )
        try:
            result = await self._request(session.call_tool(name, arguments or {}))
        except _TimedOut:
            raise ToolError(
                f"MCP server {self._name!r} did not answer tool {name!r} within {self._timeout} s"
            ) from None
        except _ConnectionLost as e:
            raise ToolError(f"MCP server {self._name!r} closed the connection") from e.__cause__
        except Exception as e:
            # A protocol-level error (unknown tool, invalid params...) or a malformed answer.
            logger.warning("MCP server %r: tool %r failed: %s", self._name, name, _describe(e))
            message = getattr(getattr(e, "error", None), "message", None) or _describe(e)
            raise ToolError(f"MCP server {self._name!r} failed tool {name!r}: {message}") from e
        data = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        text = _content_to_text(data)
        if data.get("isError"):
            raise ToolError(text or f"MCP tool {name!r} failed without an error message")
        return text

    def invalidate_cache(self) -> None:
        """Forget the cached tool list; the next ``list_tools()`` asks the server again."""
        self._tools_cache = None

    async def aclose(self) -> None:
        """Disconnect and stop the server (stdio: the process is terminated). Idempotent;
        never raises for a server that already died."""
        async with self._get_lock():
            await self._stop_runner()

    async def __aenter__(self) -> Self:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "connected" if self.initialized else "disconnected"
        return f"<{type(self).__name__} {self._name!r} {state}>"

    # ------------------------------------------------------------------ internals

    def _get_lock(self) -> asyncio.Lock:
        """The connect/close lock of the running loop. A server object may outlive a loop
        (tests run each on a fresh one); state tied to a finished loop is dropped."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
            if self._runner is not None and self._runner.get_loop() is not loop:
                self._runner = self._session = self._ready = None
                self._ended = self._close_requested = None
        return self._lock

    def _require_session(self) -> ClientSession:
        if self._session is None or not self.initialized:
            raise RuntimeError(
                f"MCP server {self._name!r} is not initialized; call `await initialize()` "
                "or use `async with`"
            )
        return self._session

    async def _list_page(self, session: ClientSession, cursor: str | None) -> dict[str, Any]:
        if cursor is None:
            result = await session.list_tools()
        else:
            # 1.x (<1.12) takes `cursor=`; later versions take `params=PaginatedRequestParams`.
            method: Any = session.list_tools
            if "cursor" in inspect.signature(method).parameters:
                result = await method(cursor=cursor)
            else:
                result = await method(params=self._mcp.types.PaginatedRequestParams(cursor=cursor))
        data: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        return data

    def _make_tool(self, spec: dict[str, Any]) -> FunctionTool:
        tool_name = str(spec["name"])
        schema = dict(spec.get("inputSchema") or {})
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})

        async def call_mcp_tool(raw_arguments: dict[str, Any]) -> str:
            return await self.call_tool(tool_name, raw_arguments)

        call_mcp_tool.__name__ = tool_name
        info = FunctionToolInfo(
            name=tool_name,
            description=str(spec.get("description") or spec.get("title") or ""),
            parameters=schema,
        )
        return FunctionTool(call_mcp_tool, info, args_model=None, context_param=None, raw=True)

    async def _request(self, awaitable: Awaitable[_T]) -> _T:
        """Await a request, bounded by the timeout and by the connection staying up.

        The request runs in a child task so it can be abandoned (cancelled) on a timeout or
        when the runner ends, whatever the SDK version does with pending requests.
        """
        ended, close_requested = self._ended, self._close_requested
        if ended is None or close_requested is None or ended.is_set():
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise _ConnectionLost
        request = asyncio.ensure_future(awaitable)
        watcher = asyncio.ensure_future(ended.wait())
        try:
            done, _ = await asyncio.wait(
                {request, watcher}, timeout=self._timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            watcher.cancel()
            if not request.done():
                request.cancel()
                request.add_done_callback(_consume_result)
        if request in done:
            try:
                return request.result()
            except Exception as e:
                if _is_connection_loss(e):
                    self._connection_lost(e, ended, close_requested)
                    raise _ConnectionLost from e
                raise
        if watcher in done:
            raise _ConnectionLost from self._last_transport_error
        raise _TimedOut

    def _connection_lost(
        self, exc: BaseException, ended: asyncio.Event, close_requested: asyncio.Event
    ) -> None:
        """Tear the dead connection down in the background; calls now fail fast."""
        if ended.is_set():
            return  # already known (concurrent calls all notice the same loss)
        logger.warning(
            "MCP server %r closed the connection (%s)",
            self._name,
            _describe(exc),
        )
        ended.set()
        close_requested.set()

    async def _run(
        self,
        ready: asyncio.Future[ClientSession],
        close_requested: asyncio.Event,
        ended: asyncio.Event,
    ) -> None:
        """The runner: owns the transport and the session from entry to exit (same task)."""
        try:
            async with AsyncExitStack() as stack:
                try:
                    read, write = await self._open_transport(stack)
                    session = await stack.enter_async_context(
                        self._mcp.ClientSession(
                            read,
                            write,
                            message_handler=self._make_message_handler(ready),
                            client_info=self._mcp.types.Implementation(
                                name="voxline", version=_voxline_version()
                            ),
                        )
                    )
                    await session.initialize()
                except Exception as e:
                    if not ready.done():
                        ready.set_exception(self._connect_error(e))
                    return
                if ready.done():  # the handshake was abandoned (timeout, fatal error)
                    return
                ready.set_result(session)
                await close_requested.wait()
        except Exception as e:
            # Raised while the SDK tore the connection down (anyio task-group errors).
            if not ready.done():
                ready.set_exception(self._connect_error(e))
            else:
                logger.debug("MCP server %r: error while disconnecting: %s", self._name, e)
        except asyncio.CancelledError:
            if not ready.done():
                ready.cancel()
            raise
        finally:
            self._tools_cache = None
            ended.set()

    def _make_message_handler(
        self, ready: asyncio.Future[ClientSession]
    ) -> Callable[[Any], Awaitable[None]]:
        """Server notifications and transport errors: a changed tool list invalidates the
        cache; transport errors are remembered for messages (and end an HTTP handshake)."""

        async def handle(message: Any) -> None:
            if isinstance(message, Exception):
                self._last_transport_error = message
                logger.debug("MCP server %r transport error: %s", self._name, message)
                if not ready.done() and self._fatal_during_handshake(message):
                    ready.set_exception(self._connect_error(message))
                return
            method = getattr(getattr(message, "root", message), "method", None)
            if method == "notifications/tools/list_changed":
                self.invalidate_cache()

        return handle

    def _connect_error(self, exc: BaseException) -> MCPConnectionError:
        error = MCPConnectionError(
            f"could not connect to MCP server {self._name!r} ({self._target()}): "
            f"{_describe(exc)}{self._error_detail()}"
        )
        error.__cause__ = exc
        return error

    async def _stop_runner(self) -> None:
        """Ask the runner to exit (it closes session and transport itself), bounded."""
        runner, self._runner = self._runner, None
        self._session = None
        if self._close_requested is not None:
            self._close_requested.set()
        if runner is None:
            return
        connected = (
            self._ready is not None
            and self._ready.done()
            and not (self._ready.cancelled() or self._ready.exception() is not None)
        )
        if not connected:
            # Still in the handshake (which has no deadline of its own): nothing to close
            # politely, and waiting for it could take forever. Cancelling is safe: the SDK
            # shields its own process/stream cleanup.
            runner.cancel()
        if not runner.done():
            done, _ = await asyncio.wait({runner}, timeout=_CLOSE_TIMEOUT)
            if not done:
                logger.warning("MCP server %r did not shut down in time; cancelling", self._name)
                runner.cancel()
                await asyncio.wait({runner}, timeout=_CLOSE_TIMEOUT)
        if runner.done() and not runner.cancelled() and runner.exception() is not None:
            logger.debug("MCP server %r runner failed: %s", self._name, runner.exception())


def _consume_result(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned request's outcome so asyncio does not log it as unhandled."""
    if not task.cancelled():
        task.exception()


def _voxline_version() -> str:
    try:
        from importlib.metadata import version

        return version("voxline")
    except Exception:
        return "0"


class MCPServerStdio(MCPServer):
    """An MCP server run as a subprocess speaking JSON-RPC over its stdin/stdout.

    ``client_session_timeout_seconds`` bounds each request; ``connect_timeout`` the process
    start and handshake (default: the former, at least 10 s). ``env`` is merged over the
    SDK's minimal safe environment (PATH, HOME...), not over ``os.environ``, so secrets of
    the agent process do not leak into third-party servers unless passed explicitly. The
    process is terminated by ``aclose()``.
    """

    def __init__(
        self,
        command: str,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        client_session_timeout_seconds: float = 5.0,
        *,
        connect_timeout: float | None = None,
        name: str | None = None,
    ) -> None:
        self.command = command
        self.args = list(args or [])
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        default_name = shlex.join([os.path.basename(command), *self.args])
        super().__init__(
            name=name or default_name,
            timeout=client_session_timeout_seconds,
            connect_timeout=connect_timeout,
        )

    def _target(self) -> str:
        return f"command {shlex.join([self.command, *self.args])!r}"

    async def _open_transport(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        stdio: Any = importlib.import_module("mcp.client.stdio")
        env = {**stdio.get_default_environment(), **(self.env or {})}
        params = stdio.StdioServerParameters(
            command=self.command, args=self.args, env=env, cwd=self.cwd
        )
        streams = await stack.enter_async_context(stdio.stdio_client(params))
        return streams[0], streams[1]


class MCPServerHTTP(MCPServer):
    """An MCP server reached over HTTP: streamable HTTP, or the older SSE transport when
    the URL path ends in ``/sse`` (or ``transport="sse"``).

    ``headers`` go with every request (authorization, API keys). ``timeout`` bounds each
    request, ``connect_timeout`` the connection and handshake (default: ``timeout``, at
    least 10 s); ``sse_read_timeout`` is how long an idle event stream may stay silent
    before the HTTP layer gives up.
    """

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        sse_read_timeout: float = 300.0,
        *,
        transport: Literal["streamable_http", "sse"] | None = None,
        connect_timeout: float | None = None,
        name: str | None = None,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.headers = dict(headers or {})
        self.sse_read_timeout = sse_read_timeout
        if transport is None:
            transport = "sse" if parsed.path.rstrip("/").endswith("/sse") else "streamable_http"
        self.transport: Literal["streamable_http", "sse"] = transport
        self._last_http_error: str | None = None
        super().__init__(name=name or url, timeout=timeout, connect_timeout=connect_timeout)

    def _target(self) -> str:
        return f"URL {self.url}"

    def _fatal_during_handshake(self, exc: BaseException) -> bool:
        return True

    def _error_detail(self) -> str:
        return f" ({self._last_http_error})" if self._last_http_error else ""

    async def _record_status(self, response: Any) -> None:
        """httpx response hook: remember a failing status (401, 403...) for the error
        message, which the SDK reduces to "Server returned an error response"."""
        if response.status_code >= 400:
            self._last_http_error = f"HTTP {response.status_code} {response.reason_phrase}"

    async def _open_transport(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        self._last_http_error = None
        if self.transport == "sse":
            sse: Any = importlib.import_module("mcp.client.sse")
            streams = await stack.enter_async_context(
                sse.sse_client(
                    self.url,
                    headers=self.headers,
                    timeout=self._timeout,
                    sse_read_timeout=self.sse_read_timeout,
                )
            )
            return streams[0], streams[1]
        http: Any = importlib.import_module("mcp.client.streamable_http")
        if hasattr(http, "streamable_http_client"):
            # mcp >= 1.24 and 2.x: headers are configured on an HTTP client we own.
            utils: Any = importlib.import_module("mcp.shared._httpx_utils")
            client = await stack.enter_async_context(
                utils.create_mcp_http_client(headers=self.headers)
            )
            client.event_hooks["response"].append(self._record_status)
            cm = http.streamable_http_client(self.url, http_client=client)
        else:  # older 1.x
            cm = http.streamablehttp_client(
                self.url,
                headers=self.headers,
                timeout=self._timeout,
                sse_read_timeout=self.sse_read_timeout,
            )
        streams = await stack.enter_async_context(cm)
        return streams[0], streams[1]


class MCPToolset(Toolset):
    """An MCP server's tools as a :class:`Toolset`: ``setup()`` connects and loads them,
    ``tools`` is the loaded list, ``aclose()`` disconnects.

    ``setup()`` is idempotent and reconnects a server that went away, so it is safe to
    call at every agent start; the tool list is a snapshot taken at ``setup()``.
    """

    def __init__(self, id: str, server: MCPServer) -> None:
        super().__init__(id=id)
        self.server = server

    async def setup(self) -> None:
        """Connect (if needed) and load the tools; raises :class:`MCPConnectionError`."""
        await self.server.initialize()
        self._tools = list(await self.server.list_tools())

    async def aclose(self) -> None:
        self._tools = []
        with contextlib.suppress(Exception):
            await self.server.aclose()
