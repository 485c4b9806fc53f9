"""Talking to phone menus (IVR): a tool to press keys, and detection of the two ways a call
with a machine goes wrong — the same prompt again and again (a menu loop), or a long silence.

Enabled with `AgentSession(ivr_detection=True)` or `ivr_detection=IVRDetectionOptions(...)`.
Detections are emitted as `ivr_loop_detected` / `ivr_silence_detected` events and passed to
the optional hooks, where an agent can hang up, press 0 for an operator, or speak.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .._utils.aio import now
from ..llm.tool_context import FunctionTool, ToolError, function_tool
from .run_context import RunContext  # at runtime: the tool's schema reads its type hints

DTMF_KEYS = frozenset("0123456789*#ABCD")


class DTMFEvent(BaseModel):
    """Keys the agent pressed; telephony transports send them as DTMF tones."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    type: Literal["dtmf_sent"] = "dtmf_sent"
    digits: str
    created_at: float = Field(default_factory=now)


class IVRLoopEvent(BaseModel):
    type: Literal["ivr_loop_detected"] = "ivr_loop_detected"
    prompt: str
    repeats: int
    created_at: float = Field(default_factory=now)


class IVRSilenceEvent(BaseModel):
    type: Literal["ivr_silence_detected"] = "ivr_silence_detected"
    silence: float
    created_at: float = Field(default_factory=now)


Hook = Callable[[Any], Awaitable[None] | None]


@dataclass(frozen=True)
class IVRDetectionOptions:
    loop_repeats: int = 3
    """How many times the same prompt must be heard to count as a loop."""
    similarity: float = 0.85
    """How alike two prompts must be (0..1) to count as the same one."""
    silence_timeout: float = 15.0
    on_loop: Hook | None = None
    on_silence: Hook | None = None

    def __post_init__(self) -> None:
        if self.loop_repeats < 2:
            raise ValueError("loop_repeats must be >= 2")
        if not 0 < self.similarity <= 1:
            raise ValueError("similarity must be within (0, 1]")
        if self.silence_timeout <= 0:
            raise ValueError("silence_timeout must be > 0")


def _normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", text.lower()).strip()


class IVRDetector:
    """Pure bookkeeping: the session feeds prompts and asks for verdicts."""

    def __init__(self, options: IVRDetectionOptions) -> None:
        self.options = options
        self._prompts: list[str] = []
        self._reported: set[str] = set()

    def on_prompt(self, text: str) -> IVRLoopEvent | None:
        prompt = _normalize(text)
        if not prompt:
            return None
        self._prompts.append(prompt)
        alike = [
            p
            for p in self._prompts
            if difflib.SequenceMatcher(None, p, prompt).ratio() >= self.options.similarity
        ]
        if len(alike) >= self.options.loop_repeats and prompt not in self._reported:
            self._reported.add(prompt)
            return IVRLoopEvent(prompt=text, repeats=len(alike))
        return None


def make_dtmf_tool(send: Callable[[str], Awaitable[None]]) -> FunctionTool:
    @function_tool(name="send_dtmf")
    async def send_dtmf(ctx: RunContext[Any], digits: str) -> str:
        """Press keys on the phone keypad, e.g. to choose a menu option.

        Args:
            digits: The keys to press, from 0-9, *, # and A-D, e.g. "1" or "0#".
        """
        keys = digits.replace(" ", "").upper()
        bad = sorted(set(keys) - DTMF_KEYS)
        if not keys or bad:
            raise ToolError(f"cannot press {digits!r}: use only 0-9, *, # and A-D")
        await send(keys)
        return f"pressed {keys}"

    return send_dtmf
