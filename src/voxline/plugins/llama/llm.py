"""A local chat model: llama.cpp in-process (xllamacpp), streaming, with tools and prewarming.

    from voxline.plugins import llama
    llm = llama.LLM()                          # Qwen2.5-Coder 0.5B, fetched on first use
    session = AgentSession(llm=llm, ...)       # or llm="local/qwen2.5-0.5b"

Generation runs in a worker thread; each token is handed to the event loop as it decodes.
Cancelling the stream (an interruption) makes the token callback ask llama.cpp to stop, so
the cores are free again within one token. Tool calls go through constrained JSON
(see `_prompt.py`). `prewarm_prompt()` evaluates the system prompt ahead of the first
turn, which the session does by itself when an agent becomes active, and `prefill()` keeps
the history and the words heard so far evaluated between turns.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

from ..._exceptions import APIConnectionError, APIError, APIStatusError
from ..._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from ..._utils.aio import now, short_id
from ...llm import llm as llm_base
from ...llm.chat_context import ChatContext
from ...llm.llm import ChatChunk, ChoiceDelta, CompletionUsage, FunctionToolCall, ToolChoice
from ...llm.tool_context import FunctionTool, Tool, flatten_tools
from .._files import ModelFileError
from ._models import DEFAULT_MODEL, model_file, resolve_model_path
from ._parser import ActionParser
from ._prompt import (
    TOOL_FORMATS,
    ToolFormat,
    branches_for,
    build_grammar,
    build_messages,
    system_prompt,
    with_system,
)
from ._server import ServerParams, load_server, request_executor, run_completion

__all__ = ["LLM", "LLMStream"]

logger = logging.getLogger("voxline.plugins.llama")

_HEARTBEAT = 0.5  # s between keep-alives while the model loads or reads the prompt


class LLM(llm_base.LLM):
    """llama.cpp through xllamacpp. `model` is a packaged model name (`qwen2.5-0.5b`,
    `qwen2.5-1.5b`) or a path to a GGUF file. `tool_format` is how tool calls are asked
    for: "text" (a plain reply or a JSON call; the first word of a reply comes first) or
    "json" (every answer one JSON object; see `_prompt.py`).

    Models are shared per process: every LLM with the same file, `n_ctx`, `n_threads` and
    `n_parallel` uses one loaded server (see `_server.py`). `n_parallel` slots serve that
    many requests at once, each with its own prompt cache; with the default of 1, sessions
    of one process take turns. `prompt_timeout` bounds how long reading a prompt may take
    before the first token (a cold 500-token prompt takes several seconds on two cores);
    after the first token, the connection options' `timeout` bounds the gaps between tokens.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        temperature: float = 0.3,
        max_tokens: int = 256,
        n_ctx: int = 4096,
        n_threads: int = 2,
        n_parallel: int = 1,
        chain_tool_calls: bool = False,
        tool_format: ToolFormat = "text",
        prompt_timeout: float = 60.0,
        progress: bool = True,
    ) -> None:
        model_file(model)  # an unknown name fails here, not at the first turn
        if tool_format not in TOOL_FORMATS:
            raise ValueError(f"tool_format must be one of {TOOL_FORMATS}, got {tool_format!r}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if n_ctx < 256:
            raise ValueError(f"n_ctx must be >= 256, got {n_ctx}")
        if n_threads < 1 or n_parallel < 1:
            raise ValueError("n_threads and n_parallel must be >= 1")
        if prompt_timeout <= 0:
            raise ValueError(f"prompt_timeout must be > 0, got {prompt_timeout}")
        self._model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_parallel = n_parallel
        self.chain_tool_calls = chain_tool_calls
        self.tool_format: ToolFormat = tool_format
        self.prompt_timeout = prompt_timeout
        self._progress = progress
        self._server: Any = None
        self._load_lock = threading.Lock()
        self._prewarm_thread: threading.Thread | None = None

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "llama.cpp"

    @property
    def server(self) -> Any:
        """The loaded `xllamacpp.Server`, or None before the first load."""
        return self._server

    def prewarm(self) -> None:
        """Start fetching and loading the model in a background thread and return at once
        (the session calls it when an agent becomes active); a no-op once loaded. A failure
        is logged here and raised by the first chat."""
        if self._server is not None or self._prewarm_thread is not None:
            return
        self._prewarm_thread = threading.Thread(
            target=self._load_logged, name="llama-prewarm", daemon=True
        )
        self._prewarm_thread.start()

    def load_blocking(self) -> Any:
        """Fetch and load the model now, blocking (e.g. in a worker's setup function)."""
        return self._load()

    async def load(self) -> Any:
        """Fetch and load the model in a worker thread; returns the shared server."""
        if self._server is not None:
            return self._server
        return await asyncio.to_thread(self._load)

    def _load_logged(self) -> None:
        try:
            self._load()
        except Exception as e:
            logger.warning("loading local LLM %r failed: %s", self._model, e)

    def _load(self) -> Any:
        with self._load_lock:
            if self._server is None:
                path = resolve_model_path(self._model, progress=self._progress)
                self._server = load_server(
                    ServerParams(
                        path=path,
                        n_ctx=self.n_ctx,
                        n_threads=self.n_threads,
                        n_parallel=self.n_parallel,
                    )
                )
            return self._server

    async def prewarm_prompt(
        self, instructions: str, tools: Sequence[Tool] = ()
    ) -> dict[str, Any] | None:
        """Evaluate the system prompt these instructions and tools produce into the prompt
        cache, so the first turn only reads its own message. With tools, the request also
        carries the tool grammar: the constraint engine's first use costs about a second of
        setup, which belongs here rather than in the first answer. Returns llama.cpp's
        timings (`prompt_n` tokens read, `cache_n` reused), or None when there is nothing to
        warm."""
        flat = flatten_tools(tools)
        system = system_prompt(instructions, flat, self.tool_format)
        if not system:
            return None
        request: dict[str, Any] = {"messages": [{"role": "system", "content": system}]}
        if flat:
            branches = branches_for(flat, None, after_tool_result=False, chain_tool_calls=False)
            request["grammar"] = build_grammar(branches, self.tool_format)
        return await self._evaluate(request)

    async def prefill(
        self, chat_ctx: ChatContext, tools: Sequence[Tool] = ()
    ) -> dict[str, Any] | None:
        """Evaluate `chat_ctx` into the prompt cache, so a request that starts with the same
        messages reads only what follows. The session calls it with the history once a reply
        is done (the next turn then pays for the user's words alone) and with a partial
        transcript while the user still speaks (the cores are idle then). Returns llama.cpp's
        timings."""
        system, messages = build_messages(chat_ctx, flatten_tools(tools), self.tool_format)
        # without the assistant header: the real request's words follow the last message,
        # and the header tokens would be read for nothing
        request = {"messages": with_system(system, messages), "add_generation_prompt": False}
        return await self._evaluate(request)

    async def _evaluate(self, request: dict[str, Any]) -> dict[str, Any] | None:
        server = await self.load()
        request = {**request, "max_tokens": 1, "temperature": 0.0, "cache_prompt": True}
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            request_executor(), server.handle_chat_completions, request
        )
        timings = result.get("timings") if isinstance(result, dict) else None
        return dict(timings) if isinstance(timings, dict) else None

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[Tool] | None = None,
        tool_choice: ToolChoice | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **extra: Any,
    ) -> LLMStream:
        return LLMStream(
            self, chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, conn_options=conn_options
        )


class LLMStream(llm_base.LLMStream):
    """One generation. `timings` holds llama.cpp's figures once it ends; `tokens_generated`
    counts the tokens the worker thread saw, which stops growing once the stream is
    cancelled (`await generation_finished()` waits for the thread to let go)."""

    def __init__(
        self,
        llm: LLM,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[Tool] | None,
        tool_choice: ToolChoice | None,
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(
            llm, chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, conn_options=conn_options
        )
        self._local = llm
        self.timings: dict[str, Any] | None = None
        self.tokens_generated = 0
        self._worker_done = threading.Event()
        self._worker_done.set()

    async def generation_finished(self, timeout: float = 10.0) -> bool:
        """Wait until llama.cpp has stopped working on this stream; False on timeout."""
        return await asyncio.to_thread(self._worker_done.wait, timeout)

    async def _run(self) -> None:
        first_token = asyncio.Event()
        heartbeat = asyncio.get_running_loop().create_task(self._keep_alive(first_token))
        try:
            await self._generate(first_token)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def _keep_alive(self, first_token: asyncio.Event) -> None:
        """Loading the model and reading the prompt emit nothing for seconds; that is work,
        not silence, so it must not trip the idle timeout (`prompt_timeout` bounds it)."""
        loading_done = self._local.server is not None
        started = now()
        while not first_token.is_set():
            if loading_done and now() - started > self._local.prompt_timeout:
                return
            self._last_activity = now()
            await asyncio.sleep(_HEARTBEAT)
            if not loading_done and self._local.server is not None:
                loading_done, started = True, now()

    async def _generate(self, first_token: asyncio.Event) -> None:
        llm = self._local
        try:
            server = await llm.load()
        except (ModelFileError, FileNotFoundError, RuntimeError) as e:
            raise APIConnectionError(f"{llm.label}: {e}", retryable=False) from e
        tools = flatten_tools(self._tools)
        request = self._request(tools)
        parser = ActionParser(plain_text_ok=not tools or llm.tool_format == "text")
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            # worker thread: count, hand over to the loop, say whether to stop
            if _delta_text(chunk):
                self.tokens_generated += 1
            loop.call_soon_threadsafe(deliver, chunk)
            return stop.is_set()

        def deliver(chunk: dict[str, Any]) -> None:
            if stop.is_set():
                return
            text = _delta_text(chunk)
            if text:
                first_token.set()
                self._last_activity = now()
                out = parser.feed(text)
                if out:
                    self._send(ChatChunk(delta=ChoiceDelta(content=out)))
            timings = chunk.get("timings")
            if isinstance(timings, dict):
                self.timings = dict(timings)

        def work() -> None:
            try:
                run_completion(server, request, on_chunk)
            finally:
                self._worker_done.set()

        self._worker_done.clear()
        try:
            await loop.run_in_executor(request_executor(), work)
        except asyncio.CancelledError:
            stop.set()  # the thread stops at its next token
            raise
        except ValueError as e:
            raise APIStatusError(f"{llm.label}: {e}", status_code=400) from e
        # let the callbacks queued by the worker run before reading the result
        await asyncio.sleep(0)
        rest, call = parser.finish()
        if rest:
            self._send(ChatChunk(delta=ChoiceDelta(content=rest)))
        if call is not None:
            tool_call = FunctionToolCall(
                name=call.name, arguments=call.arguments, call_id=short_id("call")
            )
            self._send(ChatChunk(delta=ChoiceDelta(tool_calls=[tool_call])))
        if self.timings is not None:
            self._send(ChatChunk(usage=_usage(self.timings)))

    def _request(self, tools: list[FunctionTool]) -> dict[str, Any]:
        llm = self._local
        system, messages = build_messages(self._chat_ctx, tools, llm.tool_format)
        request: dict[str, Any] = {
            "messages": with_system(system, messages),
            "stream": True,
            "cache_prompt": True,
            "max_tokens": llm.max_tokens,
            "temperature": llm.temperature,
        }
        if tools:
            items = self._chat_ctx.items
            after_result = bool(items) and items[-1].type == "function_call_output"
            try:
                branches = branches_for(
                    tools,
                    self._tool_choice,
                    after_tool_result=after_result,
                    chain_tool_calls=llm.chain_tool_calls,
                )
            except ValueError as e:
                raise APIError(f"{llm.label}: {e}", retryable=False) from e
            request["grammar"] = build_grammar(branches, llm.tool_format)
        return request


def _delta_text(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices")
    if not choices:
        return ""
    delta = choices[0].get("delta") or {}
    content = delta.get("content")
    return content if isinstance(content, str) else ""


def _usage(timings: dict[str, Any]) -> CompletionUsage:
    cached = int(timings.get("cache_n", 0))
    prompt = int(timings.get("prompt_n", 0)) + cached
    completion = int(timings.get("predicted_n", 0))
    return CompletionUsage(
        completion_tokens=completion,
        prompt_tokens=prompt,
        prompt_cached_tokens=cached,
        total_tokens=prompt + completion,
    )
