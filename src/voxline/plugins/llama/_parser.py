"""Reads the model's action JSON while it decodes, so a spoken reply starts before it ends.

With tools, a local model answers with one compact object, either
`{"tool":"none","reply":"..."}` or `{"tool":NAME,"arguments":{...}}`. The reply string is
decoded and handed out piece by piece as its characters arrive; a tool call is kept whole
and parsed at the end. Text that is not an action (a plain answer, or tool JSON inside a
```json fence, as small models write when unconstrained) is handled by `finish()`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ActionParser", "ParsedCall", "parse_tool_json"]

# the object's head, up to the opening quote of the reply or the start of the arguments
_HEAD = re.compile(
    r'\s*\{\s*"(?:tool|name)"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"(reply|arguments)"\s*:\s*'
)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*(?:```\s*)?$", re.S)
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class ParsedCall:
    """A tool call read from the model's output; `arguments` is JSON text, possibly broken
    (the session then reports invalid arguments to the model)."""

    name: str
    arguments: str


class ActionParser:
    """Feed decoded text with `feed()` (returns reply text ready to stream), then `finish()`.

    `plain_text_ok` is for unconstrained output: text that does not start like JSON streams
    through at once instead of being held until the end."""

    def __init__(self, *, plain_text_ok: bool = False) -> None:
        self._buf = ""
        self._plain_text_ok = plain_text_ok
        self._mode: str = "head"  # head | reply | reply_done | call | plain
        self._tool = ""
        self._pos = 0  # next unread index of the reply string in _buf
        self.reply_parts: list[str] = []

    @property
    def streamed_reply(self) -> str:
        return "".join(self.reply_parts)

    def feed(self, text: str) -> str:
        self._buf += text
        if self._mode == "head":
            self._read_head()
        if self._mode == "plain":
            out = self._buf[self._pos :]
            self._pos = len(self._buf)
            return self._emit(out)
        if self._mode == "reply":
            return self._emit(self._read_reply())
        return ""

    def finish(self) -> tuple[str, ParsedCall | None]:
        """The reply text not streamed yet and the tool call, if the output was one."""
        if self._mode in ("reply", "reply_done", "plain"):
            return "", None
        if self._mode == "call":
            return "", self._parse_call()
        # never looked like an action: a plain answer, a fenced or bare tool JSON, or junk
        call = parse_tool_json(self._buf)
        if call is not None:
            return "", call
        data = _loads_object(_unfence(self._buf))
        if data is not None and isinstance(data.get("reply"), str):
            return self._emit(data["reply"]), None
        return self._emit(self._buf.strip()), None

    # -------------------------------------------------------------- internals

    def _emit(self, text: str) -> str:
        if text:
            self.reply_parts.append(text)
        return text

    def _read_head(self) -> None:
        stripped = self._buf.lstrip()
        if self._plain_text_ok and stripped and stripped[0] not in "{`":
            self._mode = "plain"
            self._pos = len(self._buf) - len(stripped)
            return
        m = _HEAD.match(self._buf)
        if m is None:
            return
        self._tool = _decode_string(m.group(1))
        if m.group(2) == "arguments" or self._tool != "none":
            self._mode = "call"
            return
        rest = self._buf[m.end() :]
        if not rest:
            return  # wait for the reply's opening quote
        if rest[0] != '"':
            self._mode = "call"  # a malformed reply; finish() sorts it out
            return
        self._mode = "reply"
        self._pos = m.end() + 1

    def _read_reply(self) -> str:
        """Decode the reply string from `_pos` as far as it is complete."""
        out: list[str] = []
        buf, i = self._buf, self._pos
        while i < len(buf):
            c = buf[i]
            if c == '"':
                self._mode = "reply_done"
                i += 1
                break
            if c != "\\":
                out.append(c)
                i += 1
                continue
            if i + 1 >= len(buf):
                break  # the escape is split across tokens
            e = buf[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            if e != "u":
                out.append(e)
                i += 2
                continue
            seq = _unicode_escape(buf, i)
            if seq is None:
                break
            text, length = seq
            out.append(text)
            i += length
        self._pos = i
        return "".join(out)

    def _parse_call(self) -> ParsedCall:
        data = _loads_object(self._buf)
        if data is not None and isinstance(data.get("arguments"), dict):
            return ParsedCall(self._tool, _dumps(data["arguments"]))
        # cut short (max_tokens) or broken: hand the raw arguments on so the session tells
        # the model its arguments were invalid, rather than dropping the call
        m = _HEAD.match(self._buf)
        raw = self._buf[m.end() :] if m is not None else self._buf
        raw = raw.strip()
        if raw.endswith("}") and raw.count("}") > raw.count("{"):
            raw = raw[:-1].rstrip()
        return ParsedCall(self._tool, raw)


def parse_tool_json(text: str) -> ParsedCall | None:
    """A tool call written as bare or fenced JSON: `{"tool"|"name": ..., "arguments": ...}`;
    None when the text is not one."""
    data = _loads_object(_unfence(text))
    if data is None:
        return None
    name = data.get("tool", data.get("name"))
    if not isinstance(name, str) or not name or name == "none":
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        return ParsedCall(name, arguments)
    return ParsedCall(name, _dumps(arguments))


def _unfence(text: str) -> str:
    m = _FENCE.match(text)
    return m.group(1) if m else text.strip()


def _loads_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _decode_string(raw: str) -> str:
    try:
        value = json.loads(f'"{raw}"')
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, str) else raw


def _unicode_escape(buf: str, i: int) -> tuple[str, int] | None:
    """The character of the `\\uXXXX` escape at `i` (a surrogate pair takes two escapes) and
    its length in `buf`; None while it is incomplete."""
    if i + 6 > len(buf):
        return None
    first = buf[i : i + 6]
    try:
        code = int(first[2:], 16)
    except ValueError:
        return first, 6
    if 0xD800 <= code < 0xDC00:
        if i + 12 > len(buf):
            return None
        pair = buf[i : i + 12]
        try:
            return json.loads(f'"{pair}"'), 12
        except json.JSONDecodeError:
            return "\ufffd", 6
    return chr(code), 6
