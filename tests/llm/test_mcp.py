"""MCP client against real MCP servers (``mcp_servers/tools_server.py``, written with the
``mcp`` package's server API), over stdio and over HTTP on 127.0.0.1.

These run on a real-time loop (plain ``async def``): they spawn processes and open sockets,
which virtual time cannot drive. Every test is bounded by ``asyncio.wait_for`` so a
regression shows up as a failure, not a hung suite.
"""

from __future__ import annotations

import asyncio
import functools
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from voxline.llm import ToolError, flatten_tools
from voxline.llm.mcp import (
    MCPConnectionError,
    MCPServerHTTP,
    MCPServerStdio,
    MCPToolset,
)

SERVER_SCRIPT = Path(__file__).parent / "mcp_servers" / "tools_server.py"
TOOL_NAMES = {"add", "echo", "fail", "sleep", "pid", "getenv", "header"}


_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])


def bounded(seconds: float) -> Callable[[_F], _F]:
    """Fail the test if it runs longer than `seconds` (no pytest-timeout plugin here)."""

    def decorate(fn: _F) -> _F:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.wait_for(fn(*args, **kwargs), seconds)

        return wrapper  # type: ignore[return-value]

    return decorate


def stdio_server(timeout: float = 5.0, **kwargs: Any) -> MCPServerStdio:
    return MCPServerStdio(
        sys.executable,
        [str(SERVER_SCRIPT), "stdio"],
        client_session_timeout_seconds=timeout,
        **kwargs,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def http_server(mode: str = "http", token: str | None = None) -> Iterator[str]:
    """Run the server in a subprocess; yield its base URL once it answers; stop it after."""
    cmd = [sys.executable, str(SERVER_SCRIPT), mode]
    if token is not None:
        cmd += ["--token", token]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("PORT "), f"test server did not start (got {line!r})"
        port = int(line.split()[1])
        deadline = time.monotonic() + 20
        while True:  # the socket is bound before uvicorn serves: wait for a real answer
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if c.recv(16).startswith(b"HTTP/"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "test server never answered"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    """A streamable-HTTP server requiring `Authorization: Bearer sekrit`."""
    with http_server("http", token="sekrit") as base:
        yield base


AUTH = {"Authorization": "Bearer sekrit"}


# ---------------------------------------------------------------- without the package


def test_import_voxline_works_without_mcp_and_using_it_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['mcp'] = None\n"
        "import voxline, voxline.llm, voxline.llm.mcp as m\n"
        "try:\n"
        "    m.MCPServerStdio('x')\n"
        "except ImportError as e:\n"
        "    print('IMPORT-ERROR', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "IMPORT-ERROR" in out.stdout
    assert "voxline[mcp]" in out.stdout


def test_results_are_flattened_to_text_the_model_can_read() -> None:
    from voxline.llm.mcp import _content_to_text

    result = {
        "content": [
            {"type": "text", "text": "first"},
            {"type": "image", "data": "iVBORw0KGgo" * 1000, "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "file body"}},
            {"type": "resource_link", "uri": "file:///b.txt", "name": "b"},
        ]
    }
    text = _content_to_text(result)
    assert text.splitlines() == [
        "first",
        "[image/png image omitted]",  # never base64 into the model's context
        "file body",
        "[resource link: file:///b.txt]",
    ]
    assert _content_to_text({"content": [], "structuredContent": {"x": 1}}) == '{"x": 1}'
    assert _content_to_text({"content": []}) == ""


# ---------------------------------------------------------------- stdio


@bounded(30)
async def test_stdio_lists_tools_with_names_descriptions_and_schemas() -> None:
    async with stdio_server() as server:
        assert server.initialized
        tools = await server.list_tools()
        by_name = {t.name: t for t in tools}
        assert set(by_name) == TOOL_NAMES
        add = by_name["add"]
        assert add.raw and add.args_model is None
        assert add.info.description == "Add two integers."
        params = add.info.parameters
        assert params["type"] == "object"
        assert set(params["properties"]) == {"a", "b"}
        assert params["properties"]["a"]["type"] == "integer"
        assert sorted(params["required"]) == ["a", "b"]
        assert by_name["pid"].info.parameters["properties"] == {}
        assert add.openai_schema()["function"]["name"] == "add"

        # cached until invalidated
        again = await server.list_tools()
        assert [t.fn for t in again] == [t.fn for t in tools]
        server.invalidate_cache()
        fresh = await server.list_tools()
        assert {t.name for t in fresh} == TOOL_NAMES
        assert fresh[0].fn is not tools[0].fn
    assert not server.initialized


@bounded(30)
async def test_stdio_call_returns_text_through_the_function_tool() -> None:
    async with stdio_server() as server:
        tools = {t.name: t for t in await server.list_tools()}
        add = tools["add"]
        # exactly how voice/tools.py runs a raw tool
        kwargs = add.parse_arguments('{"a": 2, "b": 40}')
        assert await add(**kwargs) == "42"
        assert await server.call_tool("echo", {"text": "héllo\nworld"}) == "héllo\nworld"
        results = await asyncio.gather(
            *(server.call_tool("add", {"a": i, "b": i}) for i in range(10))
        )
        assert results == [str(2 * i) for i in range(10)]


@bounded(30)
async def test_stdio_tool_error_carries_the_server_message() -> None:
    async with stdio_server() as server:
        tools = {t.name: t for t in await server.list_tools()}
        with pytest.raises(ToolError, match="the printer is on fire"):
            await tools["fail"](raw_arguments={"message": "the printer is on fire"})
        with pytest.raises(ToolError, match="nope"):  # unknown tool: an error, not a crash
            await server.call_tool("nope", {})
        assert await server.call_tool("echo", {"text": "still fine"}) == "still fine"


@bounded(30)
async def test_stdio_slow_tool_times_out_promptly_and_the_session_survives() -> None:
    async with stdio_server(timeout=1.0) as server:
        started = time.monotonic()
        with pytest.raises(ToolError) as info:
            await server.call_tool("sleep", {"seconds": 20})
        elapsed = time.monotonic() - started
        assert 0.9 < elapsed < 3.0
        assert "did not answer tool 'sleep' within 1.0 s" in info.value.message
        assert server.name in info.value.message
        assert server.initialized
        assert await server.call_tool("echo", {"text": "after"}) == "after"


@bounded(45)
async def test_stdio_server_killed_mid_call_and_before_the_next_call() -> None:
    server = stdio_server(timeout=10.0)
    try:
        await server.initialize()
        pid = int(await server.call_tool("pid"))
        pending = asyncio.ensure_future(server.call_tool("sleep", {"seconds": 30}))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ToolError, match="closed the connection"):
            await pending
        assert time.monotonic() - started < 5.0  # not the 10 s timeout, let alone forever
        assert not server.initialized

        started = time.monotonic()
        with pytest.raises(ToolError, match=r"not connected|closed the connection"):
            await server.call_tool("echo", {"text": "x"})
        assert time.monotonic() - started < 1.0

        # initialize() reconnects (MCPToolset.setup() relies on this at the next agent start)
        await server.initialize()
        assert server.initialized
        assert int(await server.call_tool("pid")) != pid
    finally:
        await server.aclose()


@bounded(45)
async def test_stdio_next_call_after_the_server_died_is_a_tool_error() -> None:
    server = stdio_server(timeout=5.0)
    try:
        await server.initialize()
        echo = {t.name: t for t in await server.list_tools()}["echo"]
        os.kill(int(await server.call_tool("pid")), signal.SIGKILL)
        await asyncio.sleep(0.5)
        started = time.monotonic()
        with pytest.raises(ToolError, match=r"closed the connection|not connected"):
            await echo(raw_arguments={"text": "x"})
        assert time.monotonic() - started < 5.0
    finally:
        await server.aclose()


@bounded(20)
async def test_missing_command_raises_connection_error_naming_it() -> None:
    server = MCPServerStdio("/definitely/not/a/command", ["--flag"])
    with pytest.raises(MCPConnectionError, match="/definitely/not/a/command"):
        await server.initialize()
    assert not server.initialized
    await server.aclose()  # harmless


@bounded(20)
async def test_server_exiting_during_handshake_raises_connection_error() -> None:
    server = MCPServerStdio(sys.executable, ["-c", "import sys; sys.exit(3)"])
    started = time.monotonic()
    with pytest.raises(MCPConnectionError, match="import sys"):
        await server.initialize()
    assert time.monotonic() - started < 5.5


@bounded(20)
async def test_server_that_never_answers_times_out_the_handshake() -> None:
    server = MCPServerStdio(sys.executable, ["-c", "import time; time.sleep(60)"])
    assert server.connect_timeout == 10.0  # starting a server may take longer than a request
    server = MCPServerStdio(
        sys.executable, ["-c", "import time; time.sleep(60)"], connect_timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(MCPConnectionError, match=r"handshake within 0\.5 s"):
        await server.initialize()
    assert time.monotonic() - started < 5.0


@bounded(30)
async def test_closed_server_refuses_politely() -> None:
    server = stdio_server()
    await server.initialize()
    await server.initialize()  # idempotent
    await server.aclose()
    await server.aclose()  # idempotent
    with pytest.raises(ToolError, match="not connected"):
        await server.call_tool("echo", {"text": "x"})
    with pytest.raises(RuntimeError, match="not initialized"):
        await server.list_tools()


@bounded(30)
async def test_env_is_merged_over_the_sdk_default_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOXLINE_AGENT_SECRET", "do-not-leak")
    async with stdio_server(env={"VOXLINE_T": "given"}) as server:
        assert await server.call_tool("getenv", {"name": "VOXLINE_T"}) == "given"
        assert await server.call_tool("getenv", {"name": "PATH"}) != ""
        assert await server.call_tool("getenv", {"name": "VOXLINE_AGENT_SECRET"}) == ""


def test_a_server_object_can_be_used_on_successive_event_loops() -> None:
    server = stdio_server()

    async def use() -> str:
        async with server:
            return await server.call_tool("echo", {"text": "again"})

    assert asyncio.run(asyncio.wait_for(use(), 30)) == "again"
    assert asyncio.run(asyncio.wait_for(use(), 30)) == "again"


# ---------------------------------------------------------------- toolset


@bounded(30)
async def test_toolset_sets_up_exposes_tools_and_closes() -> None:
    server = stdio_server()
    toolset = MCPToolset("files", server)
    assert toolset.id == "files" and toolset.tools == []
    await toolset.setup()
    await toolset.setup()  # every agent start calls it; connecting twice must not happen
    assert {t.name for t in flatten_tools([toolset])} == TOOL_NAMES
    add = next(t for t in flatten_tools([toolset]) if t.name == "add")
    assert await add(**add.parse_arguments('{"a": 1, "b": 2}')) == "3"
    await toolset.aclose()
    assert toolset.tools == []
    assert not server.initialized


@bounded(20)
async def test_toolset_setup_failure_is_a_connection_error() -> None:
    toolset = MCPToolset("broken", MCPServerStdio("/definitely/not/a/command"))
    with pytest.raises(MCPConnectionError):
        await toolset.setup()
    assert toolset.tools == []
    await toolset.aclose()


# ---------------------------------------------------------------- HTTP


@bounded(30)
async def test_http_lists_and_calls_tools_and_headers_reach_the_server(http_base: str) -> None:
    headers = {**AUTH, "X-Voxline-Test": "hello from the client"}
    async with MCPServerHTTP(f"{http_base}/mcp", headers=headers) as server:
        assert server.transport == "streamable_http"
        tools = {t.name: t for t in await server.list_tools()}
        assert set(tools) == TOOL_NAMES
        assert tools["echo"].info.description == "Repeat the text back."
        assert await server.call_tool("add", {"a": 20, "b": 22}) == "42"
        assert await server.call_tool("header", {"name": "x-voxline-test"}) == (
            "hello from the client"
        )
        with pytest.raises(ToolError, match="kaboom"):
            await server.call_tool("fail", {"message": "kaboom"})


@bounded(30)
async def test_http_slow_tool_times_out(http_base: str) -> None:
    async with MCPServerHTTP(f"{http_base}/mcp", headers=AUTH, timeout=1.0) as server:
        started = time.monotonic()
        with pytest.raises(ToolError, match=r"did not answer tool 'sleep' within 1\.0 s"):
            await server.call_tool("sleep", {"seconds": 20})
        assert time.monotonic() - started < 3.0
        assert await server.call_tool("echo", {"text": "ok"}) == "ok"


@bounded(30)
async def test_http_wrong_credentials_raise_connection_error(http_base: str) -> None:
    server = MCPServerHTTP(f"{http_base}/mcp", headers={"Authorization": "Bearer wrong"})
    with pytest.raises(MCPConnectionError) as info:
        await server.initialize()
    assert f"{http_base}/mcp" in str(info.value)
    assert "401" in str(info.value)


@bounded(20)
async def test_http_unreachable_url_raises_connection_error_promptly() -> None:
    url = f"http://127.0.0.1:{_free_port()}/mcp"
    server = MCPServerHTTP(url, timeout=5.0)
    started = time.monotonic()
    with pytest.raises(MCPConnectionError, match=url):
        await server.initialize()
    assert time.monotonic() - started < 5.5


@bounded(45)
async def test_http_server_dying_mid_session_is_a_tool_error() -> None:
    with http_server("http") as base:
        server = MCPServerHTTP(f"{base}/mcp", timeout=3.0)
        await server.initialize()
        assert await server.call_tool("echo", {"text": "up"}) == "up"
    # the server process is gone now
    try:
        started = time.monotonic()
        with pytest.raises(ToolError, match=r"closed the connection|failed tool|not connected"):
            await server.call_tool("echo", {"text": "down"})
        assert time.monotonic() - started < 3.5
    finally:
        await server.aclose()


@bounded(45)
async def test_sse_url_uses_the_sse_transport() -> None:
    with http_server("sse") as base:
        async with MCPServerHTTP(f"{base}/sse", headers={"X-Voxline-Test": "sse!"}) as server:
            assert server.transport == "sse"
            assert {t.name for t in await server.list_tools()} == TOOL_NAMES
            assert await server.call_tool("add", {"a": 1, "b": 1}) == "2"
            assert await server.call_tool("header", {"name": "x-voxline-test"}) == "sse!"


def test_http_rejects_non_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        MCPServerHTTP("ftp://example.com/mcp")
