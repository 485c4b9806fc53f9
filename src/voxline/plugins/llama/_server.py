"""One llama.cpp server per model per process, shared by every session of the process.

A GGUF takes half a gigabyte or more of memory and about a second to load, so
`load_server()` keeps a per-process cache keyed by the model path and the load parameters
(context size, threads, parallel slots); every `LLM` object built with the same ones shares
one `xllamacpp.Server`. Its requests queue on `n_parallel` slots; each slot keeps its own
prompt cache. The cache lives until the process exits (`unload_all()` drops it for tests
and tools that swap models); so does the thread pool its requests run on.

`xllamacpp.Server` runs llama.cpp's HTTP server core in-process: requests are plain dicts in
the OpenAI chat-completions format, answered by blocking calls, which voxline runs in
worker threads. It also listens on 127.0.0.1 (a random port unless `port` is given), which
is what makes it usable as a local OpenAI-compatible endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ServerParams",
    "load_server",
    "loaded_servers",
    "request_executor",
    "run_completion",
    "unload_all",
]

# A request holds a thread while it waits for a slot and while it decodes; many sessions'
# requests queue at once, so they get threads of their own rather than the loop's default
# executor (a few threads, shared with everything else that runs off the loop).
_MAX_REQUEST_THREADS = 64


@dataclass(frozen=True)
class ServerParams:
    path: str
    n_ctx: int = 4096
    n_threads: int = 2
    n_parallel: int = 1
    port: int = 0


_lock = threading.Lock()
_servers: dict[ServerParams, Any] = {}  # the documented per-process model cache
_executor: ThreadPoolExecutor | None = None


def load_server(params: ServerParams) -> Any:
    """The shared server for `params`, loading the model on first use (blocking)."""
    with _lock:
        server = _servers.get(params)
        if server is None:
            server = _servers[params] = _start(params)
        return server


def request_executor() -> ThreadPoolExecutor:
    """The threads that run llama.cpp requests, shared by the servers of the process."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(_MAX_REQUEST_THREADS, thread_name_prefix="llama")
        return _executor


def loaded_servers() -> dict[ServerParams, Any]:
    with _lock:
        return dict(_servers)


def unload_all() -> None:
    with _lock:
        _servers.clear()


def _start(params: ServerParams) -> Any:
    import xllamacpp  # type: ignore[import-untyped, unused-ignore]

    if not Path(params.path).is_file():
        raise FileNotFoundError(f"GGUF model file not found: {params.path}")
    p = xllamacpp.CommonParams()
    p.model.path = params.path  # `p.model` is an object: assigning a string raises
    p.n_ctx = params.n_ctx * params.n_parallel  # llama.cpp splits n_ctx over the slots
    p.n_parallel = params.n_parallel
    p.cpuparams.n_threads = params.n_threads
    p.cpuparams_batch.n_threads = params.n_threads
    p.use_jinja = True
    p.verbosity = -1  # llama.cpp logs every request to stderr otherwise
    p.hostnames = ["127.0.0.1"]
    p.port = params.port
    try:
        return xllamacpp.Server(p)
    except Exception as e:
        raise RuntimeError(f"llama.cpp could not load {params.path}: {e}") from e


def run_completion(
    server: Any, request: dict[str, Any], on_chunk: Callable[[dict[str, Any]], bool]
) -> Any:
    """Run a streaming chat completion (blocking); `on_chunk` returns True to stop it.

    A request llama.cpp rejects raises ValueError, or comes back as an error dict."""
    result = server.handle_chat_completions(request, on_chunk)
    if isinstance(result, dict) and "error" in result:
        raise ValueError(_error_message(result["error"]))
    return result


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)
