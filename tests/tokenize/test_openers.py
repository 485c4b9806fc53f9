"""`is_opener`: the one-word sentences ("Sure.", "Okay!") that a TTS may speak the moment
their punctuation arrives, without waiting for the next word to prove the sentence ended.
Anything that could still go on ("Dr." Smith, "No." 5, a number) must not qualify: it would
be cut into two sentences and spoken with a pause in the middle."""

from __future__ import annotations

import pytest

from voxline.tokenize.sentences import is_opener


@pytest.mark.parametrize(
    "text",
    ["Sure.", "Okay!", " Yes. ", "Hello.", "sure.", "OK.", "Hmm.", "Thanks!", "Sure.\n"],
)
def test_one_word_openers(text: str) -> None:
    assert is_opener(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Dr.", "an abbreviation: the name follows"),
        ("No.", 'left out for "No. 5"'),
        ("Sure", "no punctuation yet: the word may go on"),
        ("Sure, the", "a clause, not a sentence"),
        ("12.", "a number: a list item or a decimal"),
        ("Sure. The", "already more than the opener"),
        ("Sure?", "a question is not an opener"),
        ("Sure...", "an ellipsis trails on"),
        ("Paris.", "a one-word sentence, but not an opening word"),
        ("", "nothing"),
        (".", "punctuation only"),
    ],
)
def test_not_openers(text: str, why: str) -> None:
    assert not is_opener(text), why
