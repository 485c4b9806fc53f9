"""A real MCP server for tests, written with the `mcp` package's server API.

Run as ``python tools_server.py stdio`` or ``python tools_server.py http|sse [--token T]``
(``http`` serves streamable HTTP at ``/mcp``, ``sse`` the legacy SSE transport at ``/sse``).
Over HTTP it binds 127.0.0.1 on a free port itself and prints ``PORT <n>`` on stdout, so
the test learns the port without a bind race. With ``--token`` every request must carry
``Authorization: Bearer <token>``, which shows that client headers reach the server.

Works with mcp 1.x (``FastMCP``) and 2.x (``MCPServer``): voxline supports both.
"""

# No `from __future__ import annotations`: mcp 1.x FastMCP finds the Context parameter by
# comparing the evaluated annotation.
import os
import socket
import sys
from typing import Any

import anyio

# Whichever SDK line is installed, the other branch does not type-check: hence the ignores.
try:  # mcp >= 2
    from mcp.server.mcpserver import (  # type: ignore[attr-defined,import-not-found,unused-ignore]
        Context,
    )
    from mcp.server.mcpserver import (  # type: ignore[attr-defined,import-not-found,unused-ignore]
        MCPServer as _Server,
    )
    from mcp.server.mcpserver.exceptions import (  # type: ignore[import-not-found,unused-ignore]
        ToolError,
    )
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import (  # type: ignore[no-redef,attr-defined,import-not-found,unused-ignore]
        Context,
    )
    from mcp.server.fastmcp import (  # type: ignore[no-redef,attr-defined,import-not-found,unused-ignore]
        FastMCP as _Server,
    )
    from mcp.server.fastmcp.exceptions import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        ToolError,
    )

server: Any = _Server("voxline-test")


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def echo(text: str) -> str:
    """Repeat the text back."""
    return text


def fail(message: str) -> str:
    """Always fail with the given message (the SDK's ToolError passes it to the client)."""
    raise ToolError(message)


async def sleep(seconds: float) -> str:
    """Wait, then answer; used to exceed the client's timeout."""
    await anyio.sleep(seconds)
    return f"slept {seconds}"


def pid() -> int:
    """The server's process id, so a test can kill it."""
    return os.getpid()


def getenv(name: str) -> str:
    """The value of an environment variable in the server process (empty if unset)."""
    return os.environ.get(name, "")


def header(name: str, ctx: Context) -> str:  # type: ignore[type-arg,unused-ignore]
    """The value of an HTTP request header (empty over stdio)."""
    request = ctx.request_context.request
    headers = getattr(request, "headers", None) or {}
    return str(headers.get(name, ""))


for _tool in (add, echo, fail, sleep, pid, getenv, header):
    server.add_tool(_tool)


def _require_token(app: Any, token: str) -> Any:
    """ASGI middleware rejecting requests without the bearer token."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


def _serve_http(token: str | None, *, sse: bool) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = server.sse_app() if sse else server.streamable_http_app()
    if token is not None:
        app = _require_token(app, token)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "stdio":
        server.run("stdio")
    elif mode in ("http", "sse"):
        token = sys.argv[sys.argv.index("--token") + 1] if "--token" in sys.argv else None
        _serve_http(token, sse=mode == "sse")
    else:
        sys.exit(f"unknown mode {mode!r}")
