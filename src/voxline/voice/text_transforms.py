"""Streaming text transforms applied to agent text before it is spoken.

LLMs write markdown and emoji; a TTS engine reads them aloud ("asterisk asterisk", "smiling
face with heart eyes"). The transforms here remove them while the text is still streaming,
so the first words reach the TTS without waiting for the reply to finish.

Both filters are incremental state machines fed chunk by chunk. Every decision looks only at
text already seen plus a bounded look-ahead, and when the look-ahead has not arrived yet the
filter waits instead of guessing. So however the LLM splits its output, the result is exactly
what filtering the whole reply at once gives, and plain text is never held back: only a
possible markdown marker (an ``*`` run, a backslash, a line start that may be ``# ``, ``- ``,
``---`` or a table separator) waits, for at most ``_MAX_LOOKAHEAD`` characters. Those caps are
rules about the text ("a rule line longer than 200 characters is not a rule"), not about the
buffer, which keeps them chunking-independent.

Markdown handling, chosen for speech rather than exact CommonMark rendering:

* ``**b**``, ``*i*``, ``__b__``, ``_i_``, ``~~s~~``: the delimiter runs are removed when they
  touch a word on one side only; a run between two word characters (``snake_case``, ``2*3``)
  or between two spaces (``2 * 3``) is kept. Deciding per run, without waiting for the
  closing delimiter, keeps latency at one character; a stray opener is simply dropped, which
  is what a listener wants anyway. Struck-through text is kept (only the tildes go).
* inline code: backticks dropped, code text kept verbatim (no markdown rules inside), the
  span ends at the matching backtick run or at the end of the line.
* fenced code blocks: the fence lines (with their info string) are dropped, the content is
  kept verbatim, because a reply that contains code usually wants it read.
* headings ``#``-``######``, list markers ``-``/``*``/``+``/``1.``/``1)``, blockquotes ``>``:
  the markers are dropped at the start of a line. A ``>`` needs a space or another ``>`` after
  it (so ``>50%`` survives), and numbered markers have at most three digits (so a line
  starting with ``2024. `` is more likely a year than an item).
* links ``[text](url)`` give ``text``, images ``![alt](url)`` give ``alt``; any bracket that
  opens after a non-word character is dropped with its closing bracket (``[1]`` gives ``1``,
  ``array[0]`` is kept), since brackets are never pronounced.
* tables (rows starting with ``|``): separator rows are dropped, cells are joined by ``, `` so
  the TTS pauses between them, empty cells vanish.
* horizontal rules (``---``, ``***``, ``___``, ``===``, optionally spaced) are dropped.
* backslash escapes ``\\*`` give the literal character.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from types import MappingProxyType

__all__ = [
    "BUILTIN_TEXT_TRANSFORMS",
    "EmojiFilter",
    "MarkdownFilter",
    "TextTransform",
    "apply_text_transforms",
    "filter_emoji",
    "filter_markdown",
    "resolve_text_transforms",
    "strip_emoji",
    "strip_markdown",
]

TextTransform = Callable[[AsyncIterable[str]], AsyncIterable[str]]
"""A streaming transform: text deltas in, text deltas out."""

_MAX_LOOKAHEAD = 200
"""The longest stretch of text any markdown decision may wait for."""

_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_LINE_SPACE = " \t"
_ROW_SPACE = " \t\r"
# Characters that may start inline markup; everything else is emitted in bulk.
_INLINE_SPECIAL = frozenset("\n*_~`\\![]")
_TABLE_SPECIAL = _INLINE_SPECIAL | frozenset("|" + _ROW_SPACE)


class _Mode(enum.Enum):
    LINE_START = enum.auto()  # deciding whether the line opens with a block marker
    INLINE = enum.auto()
    SKIP_LINE = enum.auto()  # dropping a fence, rule or table separator line
    FENCE_LINE_START = enum.auto()  # inside a code block: is this the closing fence?
    FENCE_CONTENT = enum.auto()  # inside a code block: verbatim to the end of the line


def _run_end(s: str, start: int, chars: str, limit: int) -> int:
    """Index after the run of ``chars`` at ``start``, scanning no further than ``limit``."""
    end = min(len(s), limit)
    i = start
    while i < end and s[i] in chars:
        i += 1
    return i


def _is_word(char: str | None) -> bool:
    return char is not None and char.isalnum()


def _is_delimiter(prev: str | None, nxt: str | None) -> bool:
    """Whether an emphasis run between ``prev`` and ``nxt`` is markup (None: line edge)."""
    prev_space = prev is None or prev.isspace()
    next_space = nxt is None or nxt.isspace()
    if prev_space and next_space:
        return False  # "2 * 3", a lone bullet glyph
    # intraword: snake_case, 2*3
    return not (_is_word(prev) and _is_word(nxt))


class MarkdownFilter:
    """Incremental markdown remover: :meth:`push` deltas, then :meth:`flush` at the end.

    The output of all pushes plus the flush equals :func:`strip_markdown` of the whole text,
    whatever the split. The filter is reusable: :meth:`flush` resets it.
    """

    def __init__(self) -> None:
        self._buf = ""
        self._reset()

    def _reset(self) -> None:
        self._mode = _Mode.LINE_START
        self._prev: str | None = None  # last source character consumed
        self._marker_stripped = False  # a block marker was dropped on this line
        self._strip_ws = False  # drop the spaces after a dropped marker
        self._fence: tuple[str, int] | None = None  # (fence char, run length)
        self._code_ticks = 0  # length of the open inline code run, 0 outside code
        self._bracket_depth = 0  # inside a dropped "[...]"
        self._after_bracket = False  # just dropped a "]": a "(" now starts a link URL
        self._url_depth = 0  # paren depth inside a link URL being dropped
        self._table_row = False
        self._row_has_content = False
        self._out: list[str] = []

    @property
    def pending(self) -> str:
        """Text received but not decided yet (at most a few markers or one line prefix)."""
        return self._buf

    def push(self, text: str) -> str:
        """Add a delta; return the filtered text that is now certain (maybe empty)."""
        self._buf += text
        return self._process(final=False)

    def flush(self) -> str:
        """End of text: return the rest, then reset for the next text."""
        out = self._process(final=True)
        self._buf = ""
        self._reset()
        return out

    def _process(self, *, final: bool) -> str:
        s = self._buf
        i = 0
        while i < len(s):
            nxt = self._step(s, i, final)
            if nxt is None:
                break
            i = nxt
        self._buf = s[i:]
        out = "".join(self._out)
        self._out.clear()
        return out

    def _emit(self, text: str) -> None:
        if text:
            self._out.append(text)
            if self._table_row and not text.isspace():
                self._row_has_content = True

    def _step(self, s: str, i: int, final: bool) -> int | None:
        """Consume what can be decided at ``s[i]``: the new index, or None to wait.

        A step that waits changes nothing, so it can be retried with more text.
        """
        mode = self._mode
        if mode is _Mode.INLINE:
            return self._inline(s, i, final)
        if mode is _Mode.LINE_START:
            return self._line_start(s, i, final)
        if mode is _Mode.SKIP_LINE:
            end = s.find("\n", i)
            if end < 0:
                self._prev = s[-1]
                return len(s)
            self._new_line()
            return end + 1
        if mode is _Mode.FENCE_CONTENT:
            end = s.find("\n", i)
            if end < 0:
                self._emit(s[i:])
                return len(s)
            self._emit(s[i : end + 1])
            self._new_line()
            return end + 1
        return self._fence_line_start(s, i, final)

    def _new_line(self) -> None:
        self._prev = "\n"
        self._mode = _Mode.FENCE_LINE_START if self._fence else _Mode.LINE_START
        self._marker_stripped = False
        self._strip_ws = False
        self._code_ticks = 0
        self._bracket_depth = 0
        self._after_bracket = False
        self._url_depth = 0
        self._table_row = False
        self._row_has_content = False

    # ------------------------------------------------------------------ block markers

    def _to_inline(self, s: str, i: int, j: int) -> int:
        """No (more) block marker on this line: indentation stays unless a marker went."""
        if not self._marker_stripped:
            self._emit(s[i:j])
        if j > i:
            self._prev = s[j - 1]
        self._mode = _Mode.INLINE
        return j

    def _drop_marker(self, s: str, end: int, *, strip_ws: bool) -> int:
        self._prev = s[end - 1]
        self._marker_stripped = True
        self._strip_ws = strip_ws
        self._mode = _Mode.INLINE
        return end

    def _line_start(self, s: str, i: int, final: bool) -> int | None:
        n = len(s)
        limit = i + _MAX_LOOKAHEAD
        j = _run_end(s, i, _LINE_SPACE, limit)
        if j >= limit:
            return self._to_inline(s, i, j)
        if j == n:
            return self._to_inline(s, i, j) if final else None
        c = s[j]
        if c in "`~":
            return self._fence_open(s, i, j, final)
        if c == "#":
            k = _run_end(s, j, "#", j + 7)
            if k == n and k < j + 7 and not final:
                return None
            if k - j <= 6 and (k == n or s[k] in " \t\n"):
                return self._drop_marker(s, k, strip_ws=True)
            return self._to_inline(s, i, j)
        if c == ">":
            if j + 1 == n and not final:
                return None
            if j + 1 == n or s[j + 1] in " \t>\n":
                # stay at line start: "> - item", "> # Title", "> > nested"
                self._prev = ">"
                self._marker_stripped = True
                return j + 1
            return self._to_inline(s, i, j)
        if c == "|":
            return self._table_line(s, i, j, final)
        if c in "-*_=":
            rule = self._is_rule(s, j, limit, final)
            if rule is None:
                return None
            if rule:
                self._mode = _Mode.SKIP_LINE
                return j
        if c in "-*+":
            if j + 1 == n and not final:
                return None
            if j + 1 < n and s[j + 1] in _LINE_SPACE:
                return self._drop_marker(s, j + 1, strip_ws=True)
            return self._to_inline(s, i, j)
        if "0" <= c <= "9":
            return self._ordered_marker(s, i, j, final)
        return self._to_inline(s, i, j)

    def _is_rule(self, s: str, j: int, limit: int, final: bool) -> bool | None:
        """``---``, ``* * *``, ``___``, ``===``: a line of one marker char (3+) and spaces."""
        c = s[j]
        k = _run_end(s, j, c + _ROW_SPACE, limit)
        if k >= limit:
            return False
        if k == len(s):
            if not final:
                return None
        elif s[k] != "\n":
            return False
        return s.count(c, j, k) >= 3

    def _ordered_marker(self, s: str, i: int, j: int, final: bool) -> int | None:
        n = len(s)
        k = _run_end(s, j, "0123456789", j + 4)
        if k - j > 3:
            return self._to_inline(s, i, j)
        if k + 1 >= n and not final:
            return None
        if k + 1 < n and s[k] in ".)" and s[k + 1] in _LINE_SPACE:
            return self._drop_marker(s, k + 1, strip_ws=True)
        return self._to_inline(s, i, j)

    def _fence_open(self, s: str, i: int, j: int, final: bool) -> int | None:
        n = len(s)
        c = s[j]
        limit = i + _MAX_LOOKAHEAD  # one budget for the whole line prefix
        k = _run_end(s, j, c, limit)
        if k == n and k < limit and not final:
            return None
        if k - j < 3:
            return self._to_inline(s, i, j)
        if c == "`":
            # "```ls``` is..." on one line is inline code, not a fence
            m = k
            end = min(n, limit)
            while m < end and s[m] not in "`\n":
                m += 1
            if m == n and m < limit and not final:
                return None
            if m < n and m < limit and s[m] == "`":
                return self._to_inline(s, i, j)
        self._fence = (c, k - j)
        self._prev = c
        self._mode = _Mode.SKIP_LINE
        return k

    def _fence_line_start(self, s: str, i: int, final: bool) -> int | None:
        assert self._fence is not None
        char, length = self._fence
        n = len(s)
        limit = i + _MAX_LOOKAHEAD
        j = _run_end(s, i, _LINE_SPACE, limit)
        if j == n and j < limit and not final:
            return None
        if j < n and j < limit and s[j] == char:
            k = _run_end(s, j, char, limit)
            if k == n and k < limit and not final:
                return None
            if k - j >= length:
                self._fence = None
                self._prev = char
                self._mode = _Mode.SKIP_LINE
                return k
        self._mode = _Mode.FENCE_CONTENT
        return i

    def _table_line(self, s: str, i: int, j: int, final: bool) -> int | None:
        limit = i + _MAX_LOOKAHEAD
        k = _run_end(s, j, "|:-" + _ROW_SPACE, limit)
        at_end = k < limit and k == len(s)
        if at_end and not final:
            return None
        if (at_end or (k < limit and s[k] == "\n")) and "-" in s[j:k]:
            self._mode = _Mode.SKIP_LINE  # "|---|:--:|"
            return j
        self._table_row = True
        self._row_has_content = False
        self._marker_stripped = True  # drop the row's indentation
        return self._to_inline(s, i, j)

    # ------------------------------------------------------------------ inline

    def _inline(self, s: str, i: int, final: bool) -> int | None:
        n = len(s)
        c = s[i]
        if self._url_depth and c != "\n":
            if c == "(":
                self._url_depth += 1
            elif c == ")":
                self._url_depth -= 1
            self._prev = c
            return i + 1
        if c == "\n":
            self._emit("\n")
            self._new_line()
            return i + 1
        if self._after_bracket:
            self._after_bracket = False
            if c == "(":
                self._url_depth = 1  # "[text](url)": the URL is dropped
                self._prev = c
                return i + 1
        if self._strip_ws:
            if c in _LINE_SPACE:
                self._prev = c
                return i + 1
            self._strip_ws = False
        if self._code_ticks:
            return self._in_code(s, i, final)
        special = _TABLE_SPECIAL if self._table_row else _INLINE_SPECIAL
        if c not in special:
            k = i + 1
            while k < n and s[k] not in special:
                k += 1
            self._emit(s[i:k])
            self._prev = s[k - 1]
            return k
        if c in "*_~":
            return self._emphasis(s, i, final)
        if c == "`":
            k = _run_end(s, i, "`", i + _MAX_LOOKAHEAD)
            if k == n and k < i + _MAX_LOOKAHEAD and not final:
                return None
            self._code_ticks = k - i
            self._prev = "`"
            return k
        if c == "\\":
            if i + 1 == n:
                if not final:
                    return None
                self._emit("\\")
                self._prev = c
                return n
            nxt = s[i + 1]
            if nxt in _ASCII_PUNCTUATION:
                self._emit(nxt)
                self._prev = nxt
                return i + 2
            if nxt != "\n":  # a backslash before a newline is a hard break: dropped
                self._emit("\\")
            self._prev = c
            return i + 1
        if c == "!":
            if i + 1 == n and not final:
                return None
            if i + 1 == n or s[i + 1] != "[":
                self._emit("!")
            self._prev = c
            return i + 1
        if c == "[":
            if self._bracket_depth:
                self._bracket_depth += 1
                self._emit("[")
            elif _is_word(self._prev) or self._prev == "_":
                self._emit("[")  # array[0]
            else:
                self._bracket_depth = 1
            self._prev = c
            return i + 1
        if c == "]":
            if self._bracket_depth == 1:
                self._after_bracket = True  # the link text ends; is a URL next?
            else:
                self._emit("]")  # nested in link text, or a bracket we kept
            self._bracket_depth = max(0, self._bracket_depth - 1)
            self._prev = c
            return i + 1
        if c == "|":
            return self._table_pipe(s, i, final)
        return self._table_space(s, i, final)

    def _emphasis(self, s: str, i: int, final: bool) -> int | None:
        c = s[i]
        limit = i + _MAX_LOOKAHEAD
        k = _run_end(s, i, c, limit)
        if k == len(s) and k < limit and not final:
            return None
        run = s[i:k]
        nxt = s[k] if k < len(s) else None
        if k >= limit or (c == "~" and len(run) < 2) or not _is_delimiter(self._prev, nxt):
            self._emit(run)  # "~5 min", "2*3", "2 * 3"
        self._prev = c
        return k

    def _in_code(self, s: str, i: int, final: bool) -> int | None:
        n = len(s)
        if s[i] != "`":
            k = i + 1
            while k < n and s[k] not in "`\n":
                k += 1
            self._emit(s[i:k])
            self._prev = s[k - 1]
            return k
        limit = i + _MAX_LOOKAHEAD
        k = _run_end(s, i, "`", limit)
        if k == n and k < limit and not final:
            return None
        if k - i == self._code_ticks:
            self._code_ticks = 0
        else:
            self._emit(s[i:k])
        self._prev = "`"
        return k

    def _table_space(self, s: str, i: int, final: bool) -> int | None:
        """Spaces in a table row: kept inside a cell, dropped before a pipe or line end."""
        n = len(s)
        limit = i + _MAX_LOOKAHEAD
        k = _run_end(s, i, _ROW_SPACE, limit)
        if k >= limit or (k < n and s[k] not in "|\n"):
            self._emit(s[i:k])
        elif k == n and not final:
            return None
        self._prev = s[k - 1]
        return k

    def _table_pipe(self, s: str, i: int, final: bool) -> int | None:
        n = len(s)
        limit = i + 1 + _MAX_LOOKAHEAD
        k = _run_end(s, i + 1, _ROW_SPACE, limit)
        if k == n and k < limit and not final:
            return None
        cell_follows = k < n and k < limit and s[k] not in "|\n"
        if cell_follows and self._row_has_content:
            self._emit(", ")
        self._prev = s[k - 1]
        return k


def strip_markdown(text: str) -> str:
    """Remove markdown from a complete text (what :func:`filter_markdown` streams)."""
    f = MarkdownFilter()
    return f.push(text) + f.flush()


# ---------------------------------------------------------------------------- emoji

# Code points with emoji presentation or commonly sent as emoji; text symbols such as
# arrows, "©" or "™" stay because a TTS reads them sensibly.
_EMOJI_RANGES: tuple[tuple[int, int], ...] = (
    (0x1F000, 0x1FAFF),  # mahjong ... pictographs ext-A, incl. flags and skin tones
    (0x2600, 0x27BF),  # miscellaneous symbols, dingbats
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2139, 0x2139),
    (0x2194, 0x2199),
    (0x21A9, 0x21AA),
    (0x231A, 0x231B),
    (0x2328, 0x2328),
    (0x23CF, 0x23CF),
    (0x23E9, 0x23F3),
    (0x23F8, 0x23FA),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25AB),
    (0x25B6, 0x25B6),
    (0x25C0, 0x25C0),
    (0x25FB, 0x25FE),
    (0x2934, 0x2935),
    (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
)
# Invisible emoji components: variation selectors, keycap, tag characters (subdivision flags).
_COMPONENT_RANGES: tuple[tuple[int, int], ...] = (
    (0xFE0E, 0xFE0F),
    (0x20E3, 0x20E3),
    (0xE0020, 0xE007F),
)
_ZWJ = "\u200d"


def _in_ranges(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _is_emoji_part(char: str) -> bool:
    cp = ord(char)
    # fast exit for the common case: ASCII and most scripts
    if cp < 0x203C:
        return False
    return _in_ranges(cp, _EMOJI_RANGES) or _in_ranges(cp, _COMPONENT_RANGES)


class EmojiFilter:
    """Incremental emoji remover, the counterpart of :class:`MarkdownFilter`.

    Every decision depends on the character and the state left by earlier ones, so nothing
    is ever held back. A zero-width joiner goes only inside an emoji sequence, because scripts
    such as Devanagari or Persian need it. Spaces right after a removed emoji go too when the
    text before was already a space (or nothing), so "I ❤️ you" reads "I you", not "I  you".
    A keycap keeps its base ("1️⃣" reads "1").
    """

    def __init__(self) -> None:
        self._last_removed = False
        self._last_emitted: str | None = None

    def push(self, text: str) -> str:
        out: list[str] = []
        start = 0  # start of the pending run of kept characters
        for idx, char in enumerate(text):
            if _is_emoji_part(char):
                drop = True
            elif char == _ZWJ:
                drop = self._last_removed
            elif char in _LINE_SPACE and self._last_removed:
                # nothing is pending here: the last drop flushed the run before it
                last = self._last_emitted
                drop = last is None or last.isspace()
            else:
                self._last_removed = False
                continue
            if not drop:
                self._last_removed = False
                continue
            if idx > start:
                out.append(text[start:idx])
                self._last_emitted = text[idx - 1]
            self._last_removed = True
            start = idx + 1
        if start < len(text):
            out.append(text[start:])
            self._last_emitted = text[-1]
        return "".join(out)

    def flush(self) -> str:
        """Nothing is ever pending; resets the state for the next text."""
        self._last_removed = False
        self._last_emitted = None
        return ""


def strip_emoji(text: str) -> str:
    """Remove emoji from a complete text (what :func:`filter_emoji` streams)."""
    return EmojiFilter().push(text)


# ---------------------------------------------------------------------------- streams


async def _aclose(iterator: AsyncIterator[str]) -> None:
    """Close a source we stopped reading early, so an abandoned reply stops its producer."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _passthrough(text: AsyncIterable[str]) -> AsyncIterator[str]:
    iterator = aiter(text)
    try:
        async for chunk in iterator:
            yield chunk
    finally:
        await _aclose(iterator)


async def filter_markdown(text: AsyncIterable[str]) -> AsyncIterator[str]:
    """Remove markdown a TTS would read aloud; see the module docstring for the rules."""
    f = MarkdownFilter()
    iterator = aiter(text)
    try:
        async for chunk in iterator:
            out = f.push(chunk)
            if out:
                yield out
    finally:
        await _aclose(iterator)
    out = f.flush()
    if out:
        yield out


async def filter_emoji(text: AsyncIterable[str]) -> AsyncIterator[str]:
    """Remove emoji, including ZWJ sequences, skin tones, flags and variation selectors."""
    f = EmojiFilter()
    iterator = aiter(text)
    try:
        async for chunk in iterator:
            out = f.push(chunk)
            if out:
                yield out
    finally:
        await _aclose(iterator)


BUILTIN_TEXT_TRANSFORMS: Mapping[str, TextTransform] = MappingProxyType(
    {"filter_markdown": filter_markdown, "filter_emoji": filter_emoji}
)
"""The transforms ``tts_text_transforms`` may name, in their default order."""


def resolve_text_transforms(
    transforms: Sequence[str | TextTransform] | None,
) -> list[TextTransform]:
    """Turn names and callables into callables, failing early on a bad entry.

    Raises ValueError for an unknown name (listing the built-ins) and TypeError for an entry
    that is neither a name nor a callable, so a typo surfaces at session setup, not mid-reply.
    """
    if transforms is None:
        return []
    if isinstance(transforms, str):
        raise TypeError(f"text transforms must be a list of names or callables, got {transforms!r}")
    resolved: list[TextTransform] = []
    for t in transforms:
        if isinstance(t, str):
            builtin = BUILTIN_TEXT_TRANSFORMS.get(t)
            if builtin is None:
                raise ValueError(
                    f"unknown text transform {t!r}; built-in: {list(BUILTIN_TEXT_TRANSFORMS)}"
                )
            resolved.append(builtin)
        elif callable(t):
            resolved.append(t)
        else:
            raise TypeError(f"text transforms must be names or callables, got {t!r}")
    return resolved


def apply_text_transforms(
    text: AsyncIterable[str],
    transforms: Sequence[str | TextTransform] | None,
) -> AsyncIterator[str]:
    """Chain ``transforms`` (in order) over ``text``; None or ``[]`` passes text through.

    Names are resolved now, not on first iteration, so an unknown name raises here.
    """
    stream: AsyncIterable[str] = text
    for transform in resolve_text_transforms(transforms):
        stream = transform(stream)
    return _passthrough(stream)
