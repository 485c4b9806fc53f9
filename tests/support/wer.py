"""Word error rate, for checking what a speech recognizer heard against what was said."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NOT_WORD = re.compile(r"[^\w\s']")


def normalize_words(text: str) -> list[str]:
    """Lowercase, punctuation stripped ("Hello, world!" -> ["hello", "world"]); apostrophes
    stay so "don't" is one word, hyphens split ("well-known" -> two words)."""
    return _NOT_WORD.sub(" ", text.lower().replace("-", " ")).split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count): Levenshtein on words."""
    ref = normalize_words(reference)
    hyp = normalize_words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref_word != hyp_word),  # substitution or match
            )
        previous = current
    return previous[-1], len(ref)


def wer(references: Sequence[str] | str, hypotheses: Sequence[str] | str) -> float:
    """Errors over reference words, pooled over all pairs (not an average of ratios)."""
    refs = [references] if isinstance(references, str) else list(references)
    hyps = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    errors = words = 0
    for ref, hyp in zip(refs, hyps):
        e, n = word_errors(ref, hyp)
        errors += e
        words += n
    if words == 0:
        raise ValueError("the references contain no words")
    return errors / words
