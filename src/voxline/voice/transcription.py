"""What the user heard of an interrupted reply.

Speech time is spread over the text by syllables (a word's speaking time grows with its
syllables, not its letters), and the cut falls on the last word that was fully played.
"""

from __future__ import annotations

import re

from ..tokenize import count_syllables

_WORD = re.compile(r"\S+\s*")


def heard_prefix(text: str, played: float, total: float) -> str:
    """The prefix of `text` spoken within `played` of `total` seconds of audio."""
    if total <= 0 or played <= 0:
        return ""
    if played >= total:
        return text.strip()
    words = _WORD.findall(text)
    weights = [max(1, count_syllables(w)) for w in words]
    budget = sum(weights) * (played / total)
    spoken = 0.0
    out: list[str] = []
    for word, weight in zip(words, weights):
        if spoken + weight > budget + 1e-9:
            break
        spoken += weight
        out.append(word)
    return "".join(out).strip()
