"""Local LLM figures: time to first token cold and after prewarming, decode speed, and tool
choice on a fixed set of prompts (two tools, and questions that need none).

    python benchmarks/local_llm.py [--model qwen2.5-0.5b|qwen2.5-1.5b|PATH.gguf]

Prints one line per prompt and a summary. Not a test: timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from voxline.llm import ChatContext, function_tool
from voxline.plugins import llama

INSTRUCTIONS = "You are a helpful voice assistant. Keep answers short."


@function_tool
async def get_time(timezone: str) -> str:
    """Get the current time in a timezone.

    Args:
        timezone: IANA timezone name, like Europe/Paris
    """
    return "12:00"


@function_tool
async def add(a: float, b: float) -> str:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return f"{a + b:g}"


TOOLS = [get_time, add]
# (prompt, expected tool or "none")
CASES = [
    ("What time is it in Tokyo?", "get_time"),
    ("Do you know the time in Paris right now?", "get_time"),
    ("What is 17 plus 25?", "add"),
    ("Can you add 3.5 and 4?", "add"),
    ("What is the capital of France?", "none"),
    ("Tell me a joke.", "none"),
    ("Hello, how are you?", "none"),
    ("Who wrote Hamlet?", "none"),
]


def ctx_for(text: str, prefix: str = "") -> ChatContext:
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content=prefix + INSTRUCTIONS)
    ctx.add_message(role="user", content=text)
    return ctx


async def one(
    llm: llama.LLM, text: str, prefix: str = "", tools: list[Any] = TOOLS
) -> tuple[float, float, str, dict[str, float]]:
    """(time to the first reply text or tool call, total time, what came out, timings)"""
    start = time.perf_counter()
    first: float | None = None
    stream = llm.chat(chat_ctx=ctx_for(text, prefix), tools=tools)
    reply: list[str] = []
    chosen = "none"
    async for chunk in stream:
        if chunk.delta is None:
            continue
        if first is None and (chunk.delta.content or chunk.delta.tool_calls):
            first = time.perf_counter() - start
        if chunk.delta.content:
            reply.append(chunk.delta.content)
        for call in chunk.delta.tool_calls:
            chosen = f"{call.name}({json.loads(call.arguments or '{}')})"
    total = time.perf_counter() - start
    out = chosen if chosen != "none" else "reply: " + "".join(reply)
    return first or total, total, out, stream.timings or {}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=llama.DEFAULT_MODEL)
    parser.add_argument("--tool-format", choices=["text", "json"], default="text")
    args = parser.parse_args()
    llm = llama.LLM(model=args.model, temperature=0.0, max_tokens=64, tool_format=args.tool_format)
    t0 = time.perf_counter()
    await llm.load()
    print(f"load {time.perf_counter() - t0:.2f} s")

    # cold: a system prompt the server has never seen; prewarmed: another one, read ahead
    cold_ttft, _, _, cold = await one(llm, "Hello, how are you?", "Cold run. ")
    print(
        f"cold turn: ttft {cold_ttft:.2f} s, read {cold.get('prompt_n')} prompt tokens "
        f"at {cold.get('prompt_per_second', 0):.0f} tok/s"
    )
    warm = await llm.prewarm_prompt("Warm run. " + INSTRUCTIONS, TOOLS)
    warm_ttft, _, _, timings = await one(llm, "Hello, how are you?", "Warm run. ")
    print(
        f"prewarmed turn: ttft {warm_ttft:.2f} s, read {timings.get('prompt_n')} prompt tokens "
        f"(prewarm read {warm and warm.get('prompt_n')})"
    )

    # the same turn without tools: plain text, no JSON around the reply
    await llm.prewarm_prompt("Plain run. " + INSTRUCTIONS, [])
    plain_ttft, _, _, timings = await one(llm, "Hello, how are you?", "Plain run. ", tools=[])
    print(
        f"prewarmed turn without tools: ttft {plain_ttft:.2f} s, "
        f"read {timings.get('prompt_n')} prompt tokens"
    )

    ok = 0
    ttfts: list[float] = []
    speeds: list[float] = []
    for text, expected in CASES:
        ttft, total, out, timings = await one(llm, text)
        got = out.split("(", 1)[0] if not out.startswith("reply:") else "none"
        ok += got == expected
        ttfts.append(ttft)
        if timings.get("predicted_per_second"):
            speeds.append(float(timings["predicted_per_second"]))
        mark = "ok " if got == expected else "BAD"
        print(
            f"{mark} {text!r:45} ttft {ttft:.2f} s total {total:.2f} s "
            f"prompt_n {timings.get('prompt_n')} -> {out[:70]!r}"
        )
    print(
        f"model {args.model} ({args.tool_format}): tool choice {ok}/{len(CASES)}, "
        f"median ttft (prewarmed) {statistics.median(ttfts):.2f} s, "
        f"decode {statistics.median(speeds):.1f} tok/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
