"""Rule-based English sentence splitting, shared by the batch and the streaming API.

TTS engines produce better prosody from whole sentences, and the first sentence of an LLM reply
should reach the TTS engine as early as possible. Both needs are served by one incremental
segmenter: every boundary rule looks at the text *before* a candidate break plus a bounded
look-ahead after it (the whitespace run, a few opening quotes and at most one word). When the
look-ahead is not there yet, the segmenter says "undecided" instead of guessing, so feeding the
same text in any number of pieces yields exactly the same sentences as splitting it in one go.
The batch function is simply the segmenter fed once with ``final=True``.

The rules are heuristics tuned for LLM output, which is well punctuated and capitalised; they
prefer merging two sentences over splitting one in the middle, because a missed break only
costs a little latency while a wrong break produces audibly wrong intonation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DEFAULT_MIN_SENTENCE_LEN", "is_opener", "split_sentences"]

DEFAULT_MIN_SENTENCE_LEN = 20

_TERMINATORS = ".!?…"
# Characters that may follow sentence-final punctuation and still belong to that sentence:
# closing quotes and brackets, plus markdown emphasis markers ("**Done.**").
_CLOSERS = "\"'\u201d\u2019»)]}*_`"
# Characters that may precede the first letter of the next sentence.
_OPENERS = "\"'\u201c\u2018«([{¿¡*_`"
_MAX_OPENERS = 3
# Longer than every word in _STARTERS: once a word is this long it cannot be one of them, so
# the look-ahead never needs more than this many letters.
_MAX_WORD_LOOKAHEAD = 16

_CANDIDATE = re.compile(
    "[" + re.escape(_TERMINATORS) + "][" + re.escape(_TERMINATORS + _CLOSERS) + "]*"
    r"|[\n\r\u2028\u2029\x0b\x0c\x85]"
)
_WHITESPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029\x0b\x0c\x85]")
_WORD_CHAR = re.compile(r"[^\W_]")
_LETTERS = re.compile(r"[^\W\d_]+")
_ROMAN_NUMERAL = re.compile(r"(?i)x{0,3}(?:ix|iv|v?i{0,3})")

# Titles precede a name, so a period after them never ends a sentence.
_TITLES = frozenset(
    """
    mr mrs ms mx dr prof sen rep gov gen col capt cmdr lt sgt cpl maj adm rev fr hon pres
    supt messrs mme mlle mt
    """.split()
)
# Abbreviations that introduce more of the same sentence ("e.g. Paris", "A vs. B").
_CONTINUING = frozenset("e.g eg i.e ie cf viz vs approx appx incl esp resp ca".split())
# Abbreviations that are followed by a number when they are abbreviations ("No. 5"); before
# anything else they are ordinary words ("No. I disagree.").
_NUMERIC = frozenset("no nos nr fig figs vol vols pp ch chap sec art op tel eq ex".split())
# Abbreviations that may end a sentence ("... in the U.S. It ..." vs "the U.S. Army").
_AMBIGUOUS = frozenset(
    """
    etc inc ltd co corp llc plc bros jr sr a.m p.m u.s u.k u.n e.u al st ave blvd rd dept
    univ assn est ft hrs mins yrs oz lbs misc govt intl natl jan feb apr jun jul aug sep sept
    oct nov dec mon tue tues thu thur thurs fri
    """.split()
)
# Words that commonly start an English sentence. After an ambiguous abbreviation or an initial
# a capitalised word only counts as a new sentence when it is one of these, because names
# ("J. R. R. Tolkien", "U.S. Army", "St. Louis") are far more common there.
_STARTERS = frozenset(
    """
    a an the this that these those it its i we you he she they there here but and or so then
    now however if when what why how who whom whose where which in on at for as my our your
    his her their let please yes no not also after before today tomorrow yesterday some many
    most all one each every because although though while once since still thus therefore
    meanwhile finally first second third next last well oh ok okay sure thanks thank is are
    was were do does did can could would should will just maybe perhaps to with by from during
    unlike like despite instead otherwise later soon again anyway besides indeed even only
    both neither either such other another nothing everything something someone everyone
    nobody hi hello hey sorry unfortunately fortunately actually really overall additionally
    moreover furthermore similarly consequently hence note remember see
    """.split()
)


# One-word replies that open an answer. Unlike other words, they are a whole sentence as soon
# as their "." or "!" arrives: none is an abbreviation ("No." is left out for "No. 5").
_OPENER_WORDS = frozenset(
    """
    sure okay ok yes yeah right alright certainly absolutely great hi hello hey sorry hmm
    well thanks understood done indeed exactly
    """.split()
)
_OPENER = re.compile(r"\s*([^\W\d_]+)[.!]\s*")


def is_opener(text: str) -> bool:
    """True for a one-word opening sentence such as "Sure." whose end needs no look-ahead:
    a reply's first audio can start before the model writes the next word."""
    match = _OPENER.fullmatch(text)
    return match is not None and match.group(1).lower() in _OPENER_WORDS


def split_sentences(text: str, *, min_sentence_len: int = DEFAULT_MIN_SENTENCE_LEN) -> list[str]:
    """Split English ``text`` into sentences for TTS.

    Sentences are returned as stripped slices of ``text`` (inner whitespace is kept, so the
    result can be mapped back onto the source). Consecutive sentences are merged until the
    merged text is at least ``min_sentence_len`` characters long, because TTS engines render
    very short inputs with unnatural prosody and per-request overhead; only the last sentence
    may stay shorter.
    """
    segmenter = Segmenter(min_sentence_len=min_sentence_len)
    return segmenter.feed(text, final=True)


@dataclass(frozen=True, slots=True)
class _Break:
    """A decided sentence boundary: the sentence ends at ``end``, the next scan starts at
    ``resume`` (the next sentence's leading whitespace is stripped later anyway)."""

    end: int
    resume: int


@dataclass(frozen=True, slots=True)
class _Wait:
    """No boundary can be decided with the text seen so far; rescan from ``resume``."""

    resume: int


@dataclass(frozen=True, slots=True)
class _NextWord:
    """What the look-ahead shows after a candidate break.

    ``char`` is the first character after whitespace and opening quotes ("" at end of text),
    ``word`` the letters starting there, ``after`` the character following them ("" at end).
    ``complete`` says whether ``word``/``after`` are final or more input could extend them.
    """

    char: str
    word: str
    after: str
    complete: bool


class Segmenter:
    """Incremental sentence segmenter behind :func:`split_sentences` and ``SentenceStream``.

    Only text that has not been emitted yet is buffered, so memory stays bounded by the
    longest pending sentence rather than the whole LLM reply. Decisions already taken are
    never revisited, which is what makes chunked and one-shot input produce equal output.
    """

    __slots__ = ("_buf", "_min_len", "_pos", "_sent_start")

    def __init__(self, *, min_sentence_len: int = DEFAULT_MIN_SENTENCE_LEN) -> None:
        if min_sentence_len < 0:
            raise ValueError(f"min_sentence_len must be >= 0, got {min_sentence_len}")
        self._min_len = min_sentence_len
        self._buf = ""
        self._pos = 0
        self._sent_start = 0

    @property
    def pending(self) -> str:
        """Text received but not emitted yet."""
        return self._buf

    def feed(self, text: str, *, final: bool = False) -> list[str]:
        """Append ``text`` and return the sentences that are now certainly complete.

        With ``final=True`` the input is declared finished: everything left is returned and
        the segmenter is reset, so one instance can serve one LLM reply after another.
        """
        self._buf += text
        out: list[str] = []
        while True:
            step = _next_break(self._buf, self._sent_start, self._pos, eof=final)
            if isinstance(step, _Wait):
                self._pos = step.resume
                break
            chunk = self._buf[: step.end].strip()
            if len(chunk) >= self._min_len:
                out.append(chunk)
                self._buf = self._buf[step.end :]
                self._pos = self._sent_start = step.resume - step.end
            else:
                self._pos = self._sent_start = step.resume
        if final:
            rest = self._buf.strip()
            if rest:
                out.append(rest)
            self._buf = ""
            self._pos = self._sent_start = 0
        return out


def _next_break(text: str, sent_start: int, pos: int, *, eof: bool) -> _Break | _Wait:
    """Find the next decided boundary at or after ``pos`` in the sentence starting at
    ``sent_start``; with ``eof=False`` stop at the first candidate needing more look-ahead."""
    n = len(text)
    while True:
        match = _CANDIDATE.search(text, pos)
        if match is None:
            return _Wait(n)
        if match.group()[0] in _TERMINATORS:
            cand_start = content_end = match.start()
            end = match.end()
            if end == n:
                if eof and _has_content(text, sent_start, content_end):
                    return _Break(end, n)
                return _Wait(n if eof else cand_start)
            if not text[end].isspace():
                # "3.14", "example.com", "e.g.," or "Hi!)": punctuation that is not followed
                # by whitespace never ends a sentence, whatever comes next.
                pos = end
                continue
        else:
            # A line break; the sentence ends where the whitespace around it starts.
            end = match.start()
            while end > sent_start and text[end - 1].isspace():
                end -= 1
            cand_start = content_end = end
        ws = _WHITESPACE.match(text, end)
        assert ws is not None  # text[end] is whitespace in both branches
        ws_end = ws.end()
        has_content = _has_content(text, sent_start, content_end)
        breaks = len(_LINE_BREAK.findall(text, end, ws_end))
        if ws_end == n:
            # Whitespace up to the end of the received text: only a blank line or the end of
            # input settles anything, because the next character decides everything else.
            if has_content and (eof or breaks >= 2):
                return _Break(end, n)
            return _Wait(n if eof else cand_start)
        if not has_content:
            pos = ws_end
            continue
        decision: bool | None
        if breaks >= 2:
            # A blank line separates paragraphs, whatever the punctuation says.
            decision = True
        elif breaks == 1:
            # A single line break ends a list item, a heading or a paragraph, unless the next
            # line continues in lower case (hard-wrapped prose).
            decision = not _is_lower(text[ws_end])
        else:
            decision = _decide_terminator(text, sent_start, match, ws_end, eof=eof)
        if decision is None:
            return _Wait(cand_start)
        if decision:
            return _Break(end, ws_end)
        pos = ws_end


def _decide_terminator(
    text: str, sent_start: int, match: re.Match[str], ws_end: int, *, eof: bool
) -> bool | None:
    """Decide whether punctuation followed by spaces (no line break) ends a sentence."""
    nxt = _peek_next_word(text, ws_end, eof=eof)
    if nxt is None:
        return None
    if not nxt.char:
        return True
    if _is_lower(nxt.char):
        # '"Really?" she asked.', "e.g. the", "Wait... what": lower case continues a sentence.
        return False
    punct = match.group()
    if "!" in punct or "?" in punct or "…" in punct or punct.count(".") > 1:
        return True

    tok_start = match.start()
    while tok_start > sent_start and not text[tok_start - 1].isspace():
        tok_start -= 1
    token = text[tok_start : match.start()].lstrip(_OPENERS).rstrip(_CLOSERS)
    if not token:
        return True
    lower = token.lower()
    if token[0].isupper() and lower in _TITLES:
        return False
    if lower in _CONTINUING:
        return False
    if not text[sent_start:tok_start].strip() and _is_enumerator(token):
        # "1. Apples", "b. Pears", "IV. Results": a list marker, not a one-word sentence.
        return False
    ambiguous = _is_ambiguous(token)
    if nxt.char.isdigit():
        return not (ambiguous or lower in _NUMERIC)
    if not ambiguous:
        return True
    if not nxt.char.isalpha():
        return True
    if not nxt.complete:
        return None
    if len(nxt.word) == 1 and nxt.after == ".":
        return False  # another initial: "J. R. R. Tolkien"
    return nxt.word.lower() in _STARTERS


def _peek_next_word(text: str, start: int, *, eof: bool) -> _NextWord | None:
    """Read the look-ahead after whitespace, or None if it runs past the received text."""
    n = len(text)
    i = start
    while i < n and i - start < _MAX_OPENERS and text[i] in _OPENERS:
        i += 1
    if i == n:
        return _NextWord("", "", "", True) if eof else None
    letters = _LETTERS.match(text, i, min(n, i + _MAX_WORD_LOOKAHEAD))
    word = letters.group() if letters else ""
    j = i + len(word)
    after = text[j] if j < n else ""
    complete = j < n or eof or len(word) >= _MAX_WORD_LOOKAHEAD
    return _NextWord(text[i], word, after, complete)


def _has_content(text: str, start: int, end: int) -> bool:
    """A sentence needs a letter or digit: "..." or a stray quote is not a sentence."""
    return _WORD_CHAR.search(text, start, end) is not None


def _is_lower(char: str) -> bool:
    return char.isalpha() and char.islower()


def _is_enumerator(token: str) -> bool:
    if token.isdigit():
        return len(token) <= 3
    if len(token) == 1:
        return token.isalpha()
    return _ROMAN_NUMERAL.fullmatch(token) is not None


def _is_ambiguous(token: str) -> bool:
    """Tokens whose trailing period may or may not end the sentence: listed abbreviations,
    single-letter initials and dotted acronyms such as "U.S.A." or "Ph.D."."""
    lower = token.lower()
    if lower in _AMBIGUOUS:
        return True
    if len(token) == 1:
        return token.isalpha()
    parts = token.split(".")
    if len(parts) < 2 or not all(part.isalpha() and len(part) <= 2 for part in parts):
        return False
    # "U.S.A", "Ph.D" and "n.b" are acronyms; "x.ai" is a domain name.
    return token[0].isupper() or all(len(part) == 1 for part in parts)
