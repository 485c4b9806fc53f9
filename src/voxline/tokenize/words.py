"""Word splitting and rough syllable counting.

Transcripts are paced word by word against the audio, and speaking time is estimated from
syllables, so both only need to be good on average rather than linguistically exact. The
syllable splitter is a vowel-group heuristic with a handful of English spelling rules (silent
final "e", "-ed"/"-es" endings, syllabic "-le", common diphthongs); it needs no pronunciation
dictionary, which keeps the package small and free of GPL-licensed hyphenation patterns.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

__all__ = ["count_syllables", "count_words", "hyphenate_word", "split_words"]

# Letters, digits and the punctuation that glues a single word together ("don't", "e-mail",
# "3.14", "1,000", "a.b@c.io", "example.com/x"), with an optional currency/hash prefix and
# percent suffix because those are read as part of the word.
_WORD = re.compile(
    r"[$€£¥#@]?\w+(?:(?:[-'\u2019.@/:_+&]|(?<=\d),(?=\d))\w+)*%?",
)
_SPOKEN_RUN = re.compile(r"(?P<digit>\d)|[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_HYPHEN_PIECE = re.compile(r"[^-]*-+|[^-]+")

_VOWELS = frozenset("aeiouy")
_DIGRAPHS = frozenset({"ch", "sh", "th", "ph", "wh", "gh", "ck"})
# Consonant units that stay with the previous syllable ("tax-i", "pick-et").
_CODA_ONLY = frozenset({"x", "ck"})
# Two-consonant onsets ending in l or r that start a syllable together ("ta-ble", "chil-dren").
_ONSET_FIRST = {
    "l": frozenset({"b", "c", "f", "g", "k", "p", "s", "ph"}),
    "r": frozenset({"b", "c", "d", "f", "g", "k", "p", "t", "th", "ph", "sh"}),
}
# Vowel pairs usually pronounced as two syllables ("pi-an-o", "li-on", "stad-i-um", "u-su-al").
_HIATUS = frozenset({"ia", "io", "iu", "ua", "uo", "ii"})
# Syllables in each spoken digit: "zero" and "seven" have two.
_DIGIT_SYLLABLES = (2, 1, 1, 1, 1, 1, 1, 2, 1, 1)


def split_words(text: str, *, ignore_punctuation: bool = True) -> list[str]:
    """Split ``text`` into words.

    With ``ignore_punctuation`` (the default, for counting and speaking-rate estimates) words
    are runs of letters and digits plus the punctuation that joins them inside one word, so
    "Hello, world..." gives ``["Hello", "world"]`` and "wait...what" two words. Without it,
    words are plain whitespace-separated tokens with their punctuation attached, so that
    ``" ".join(words)`` reproduces the text for word-by-word transcript display.
    """
    if not ignore_punctuation:
        return text.split()
    return _WORD.findall(text)


def count_words(text: str) -> int:
    """Count the words of ``text`` as :func:`split_words` sees them."""
    return len(_WORD.findall(text))


def count_syllables(text: str) -> int:
    """Estimate how many syllables speaking ``text`` takes.

    Digits are counted as if read one by one ("42" as "four two"): exact number reading is
    not worth the complexity for a speaking-time estimate.
    """
    total = 0
    for word in _WORD.findall(text):
        for run in _SPOKEN_RUN.finditer(word):
            digit = run.group("digit")
            if digit is not None:
                total += _DIGIT_SYLLABLES[int(digit)]
            else:
                total += len(hyphenate_word(run.group()))
    return total


def hyphenate_word(word: str) -> list[str]:
    """Split ``word`` into rough syllables; ``"".join`` of the result is ``word``.

    Existing hyphens are kept as split points ("well-known" gives ``["well-", "known"]``). A
    word without vowels is returned whole, and an empty word gives no syllables.
    """
    parts: list[str] = []
    for piece in _HYPHEN_PIECE.findall(word):
        syllables = _split_syllables(piece)
        if parts and not any(char.isalnum() for char in piece):
            parts[-1] += piece
        else:
            parts.extend(syllables)
    return parts


def _split_syllables(word: str) -> list[str]:
    if not word:
        return []
    letters = [_base_letter(char) for char in word]
    nuclei = _nuclei(letters, _marks(word))
    if len(nuclei) < 2:
        return [word]
    cuts = [_cut(letters, prev[1], nxt[0]) for prev, nxt in itertools.pairwise(nuclei)]
    bounds = [0, *cuts, len(word)]
    return [word[start:end] for start, end in itertools.pairwise(bounds)]


def _base_letter(char: str) -> str:
    """Lower-case ASCII base of a letter ("É" -> "e") so accented vowels count as vowels."""
    return unicodedata.normalize("NFD", char)[0].lower()


def _marks(word: str) -> list[str]:
    """Combining marks per character: a diaeresis ("naïve") or accent ("café") changes how a
    vowel is pronounced, which the plain base letter cannot tell."""
    return [unicodedata.normalize("NFD", char)[1:] for char in word]


def _vowel_mask(letters: list[str], marks: list[str]) -> list[bool]:
    n = len(letters)
    mask = [False] * n
    for i, char in enumerate(letters):
        if char not in _VOWELS:
            continue
        if char == "y":
            # Consonant at the start or before a vowel ("yes", "player"), vowel otherwise
            # ("happy", "gym", "boy").
            mask[i] = i > 0 and not (i + 1 < n and letters[i + 1] in "aeiou")
        elif char == "u" and i > 0 and letters[i - 1] == "q":
            mask[i] = False  # "qu" is a consonant sound
        else:
            mask[i] = True
    _silence_final_e(letters, mask, marks)
    return mask


def _silence_final_e(letters: list[str], mask: list[bool], marks: list[str]) -> None:
    """Mark the silent "e" of "make", "makes" and "jumped" as a consonant (never "café")."""
    word = "".join(letters)
    n = len(word)
    if word.endswith("e"):
        e_pos = n - 1
    elif word.endswith(("es", "ed")):
        e_pos = n - 2
    else:
        return
    if e_pos < 1 or marks[e_pos] or not mask[e_pos] or not any(mask[: e_pos - 1]):
        return
    before = word[e_pos - 1]
    if e_pos == n - 1:
        # "make" but not "free"; "whole" but not "table" or "acre" (syllabic l/r).
        if mask[e_pos - 1] or _is_syllabic_liquid(word, mask, e_pos):
            return
    elif word.endswith("es"):
        # "makes", "clothes" but not "boxes", "wishes", "pages", "tables".
        if mask[e_pos - 1] or before in "sxzcg" or _is_syllabic_liquid(word, mask, e_pos):
            return
        if before == "h" and e_pos >= 2 and word[e_pos - 2] in "cs":
            return
    else:
        # "jumped", "agreed" but not "wanted", "needed", "hundred", "cycled".
        if before in "td" or _is_syllabic_liquid(word, mask, e_pos):
            return
    mask[e_pos] = False


def _is_syllabic_liquid(word: str, mask: list[bool], e_pos: int) -> bool:
    """ "-le"/"-re" after a consonant is its own syllable ("ta-ble", "ac-re")."""
    return (
        e_pos >= 2
        and word[e_pos - 1] in "lr"
        and not mask[e_pos - 2]
        and word[e_pos - 2].isalpha()
        and word[e_pos - 2] != word[e_pos - 1]
    )


def _nuclei(letters: list[str], marks: list[str]) -> list[tuple[int, int]]:
    """Vowel groups as ``(start, end)`` spans, with two-syllable vowel pairs split."""
    mask = _vowel_mask(letters, marks)
    word = "".join(letters)
    n = len(letters)
    ing = n - 3 if word.endswith("ing") else n - 4 if word.endswith("ings") else -1
    spans: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if not mask[i]:
            i += 1
            continue
        start = i
        i += 1
        while i < n and mask[i]:
            pair = word[i - 1 : i + 1]
            hiatus = pair in _HIATUS and not (
                (pair[0] == "i" and i >= 2 and word[i - 2] in "ctsxg")
                or (pair[0] == "u" and i >= 2 and word[i - 2] in "gq")
            )
            diaeresis = "\u0308" in marks[i]
            if hiatus or diaeresis or i == ing or (pair == "ea" and i == n - 1):
                # "pi-an-o", "na-ïve", "be-ing", "i-de-a": two vowels, two syllables.
                spans.append((start, i))
                start = i
            i += 1
        spans.append((start, i))
    return spans


def _cut(letters: list[str], cluster_start: int, cluster_end: int) -> int:
    """Where to split the consonants between two vowel groups."""
    units: list[tuple[int, str]] = []
    i = cluster_start
    while i < cluster_end:
        pair = "".join(letters[i : i + 2])
        if i + 1 < cluster_end and pair in _DIGRAPHS:
            units.append((i, pair))
            i += 2
        else:
            units.append((i, letters[i]))
            i += 1
    if not units:
        return cluster_end  # "pi-an-o"
    last_pos, last = units[-1]
    if len(units) == 1:
        return cluster_end if last in _CODA_ONLY else last_pos  # "tax-i", "ba-by"
    prev_pos, prev = units[-2]
    if prev in _ONSET_FIRST.get(last, frozenset()):
        return prev_pos  # "ta-ble", "chil-dren"
    return last_pos  # "hap-py", "sis-ter", "litt-le"
