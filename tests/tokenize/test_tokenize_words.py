from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxline.tokenize import count_syllables, count_words, hyphenate_word, split_words


def test_split_words_ignores_punctuation_by_default() -> None:
    assert split_words("Hello, world... How are you?") == ["Hello", "world", "How", "are", "you"]


def test_split_words_keeps_word_internal_punctuation() -> None:
    text = "It's a well-known fact: $4.50, 1,000 or 10% (see example.com/a.html, a.b@c.io)."
    assert split_words(text) == [
        "It's",
        "a",
        "well-known",
        "fact",
        "$4.50",
        "1,000",
        "or",
        "10%",
        "see",
        "example.com/a.html",
        "a.b@c.io",
    ]


def test_split_words_splits_on_dashes_and_ellipses_between_words() -> None:
    assert split_words("this\u2014that wait...what") == ["this", "that", "wait", "what"]
    assert split_words("-- \u2026 !") == []


def test_split_words_with_punctuation_reproduces_the_text() -> None:
    text = "Hello,  world...\nHow are you?"
    words = split_words(text, ignore_punctuation=False)
    assert words == ["Hello,", "world...", "How", "are", "you?"]
    assert " ".join(words) == " ".join(text.split())


def test_count_words() -> None:
    assert count_words("") == 0
    assert count_words("One, two... three!") == 3
    assert count_words("Caf\u00e9 na\u00efve \u00fcber") == 3


@pytest.mark.parametrize(
    ("word", "syllables"),
    [
        ("the", 1),
        ("cat", 1),
        ("make", 1),
        ("jumped", 1),
        ("queue", 1),
        ("fire", 1),
        ("hello", 2),
        ("table", 2),
        ("wanted", 2),
        ("people", 2),
        ("rhythm", 2),
        ("create", 2),
        ("being", 2),
        ("naive", 2),
        ("caf\u00e9", 2),
        ("syllable", 3),
        ("beautiful", 3),
        ("banana", 3),
        ("everything", 3),
        ("chocolate", 3),
        ("idea", 3),
        ("piano", 3),
        ("computer", 3),
        ("university", 5),
        ("opportunity", 5),
    ],
)
def test_syllable_count_is_within_one(word: str, syllables: int) -> None:
    assert abs(len(hyphenate_word(word)) - syllables) <= 1
    assert abs(count_syllables(word) - syllables) <= 1


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("hello", ["hel", "lo"]),
        ("table", ["ta", "ble"]),
        ("banana", ["ba", "na", "na"]),
        ("children", ["chil", "dren"]),
        ("mother", ["mo", "ther"]),
        ("Jumped", ["Jumped"]),
        ("well-known", ["well-", "known"]),
        ("don't", ["don't"]),
    ],
)
def test_hyphenate_word_split_points(word: str, parts: list[str]) -> None:
    assert hyphenate_word(word) == parts


def test_hyphenate_word_edge_cases() -> None:
    assert hyphenate_word("") == []
    assert hyphenate_word("hmm") == ["hmm"]
    assert hyphenate_word("-") == ["-"]


@given(st.text(max_size=30))
def test_hyphenate_word_parts_rebuild_the_word(word: str) -> None:
    parts = hyphenate_word(word)
    assert "".join(parts) == word
    assert all(parts)


def test_count_syllables_of_text() -> None:
    # I(1) paid(1) 4(1) 2(1) dol-lars(2) yes-ter-day(3)
    assert count_syllables("I paid 42 dollars yesterday.") == 9
    assert count_syllables("") == 0
    assert count_syllables("?!") == 0
    assert count_syllables("Seven 7") == 4


@given(st.text(max_size=60))
def test_every_word_has_at_least_one_syllable(text: str) -> None:
    assert count_syllables(text) >= sum(
        1 for word in split_words(text) if any(char.isalnum() for char in word)
    )
