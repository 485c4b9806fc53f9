from __future__ import annotations

import pytest

from voxline.tokenize import split_sentences


def split(text: str) -> list[str]:
    """Split without merging, so each rule is visible on its own."""
    return split_sentences(text, min_sentence_len=0)


def test_basic_terminators() -> None:
    assert split("Hello there. How are you? I am great! Thanks… Bye") == [
        "Hello there.",
        "How are you?",
        "I am great!",
        "Thanks…",
        "Bye",
    ]


def test_empty_and_whitespace_only() -> None:
    assert split_sentences("") == []
    assert split_sentences("   \n\n  ") == []


def test_sentences_are_stripped_slices_of_the_input() -> None:
    text = "  First one here.   Second one\nwraps here.  "
    assert split(text) == ["First one here.", "Second one\nwraps here."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I saw Mr. Smith today. He waved.",
            ["I saw Mr. Smith today.", "He waved."],
        ),
        (
            "Mrs. Jones and Dr. Who met Prof. Plum. They talked.",
            ["Mrs. Jones and Dr. Who met Prof. Plum.", "They talked."],
        ),
        ("We live on St. Louis Ave. in town.", ["We live on St. Louis Ave. in town."]),
        ("I live on Main St. The house is red.", ["I live on Main St.", "The house is red."]),
        (
            "Fruits, e.g. Apples, are tasty. I.e. They are good.",
            ["Fruits, e.g. Apples, are tasty.", "I.e. They are good."],
        ),
        ("It is cats vs. Dogs again. Yes.", ["It is cats vs. Dogs again.", "Yes."]),
        ("I bought apples, pears, etc. The end.", ["I bought apples, pears, etc.", "The end."]),
        ("Apples, pears, etc. and more.", ["Apples, pears, etc. and more."]),
        ("I live in the U.S. It is big.", ["I live in the U.S.", "It is big."]),
        ("The U.S. Army is large.", ["The U.S. Army is large."]),
        ("We met at 5 p.m. Then we ate.", ["We met at 5 p.m.", "Then we ate."]),
        ("At 9 a.m. Eastern time we left.", ["At 9 a.m. Eastern time we left."]),
        ("Acme Inc. Products are fine.", ["Acme Inc. Products are fine."]),
        ("I work at Acme Ltd. It is fun.", ["I work at Acme Ltd.", "It is fun."]),
        ("Martin Luther King Jr. was a leader.", ["Martin Luther King Jr. was a leader."]),
        ("Ask John Smith Sr. He knows.", ["Ask John Smith Sr.", "He knows."]),
        ("See No. 5 on the list. No. I refuse.", ["See No. 5 on the list.", "No.", "I refuse."]),
        ("See Fig. 3 for details.", ["See Fig. 3 for details."]),
        ("She has a Ph.D. in physics.", ["She has a Ph.D. in physics."]),
    ],
)
def test_abbreviations(text: str, expected: list[str]) -> None:
    assert split(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "J. R. R. Tolkien wrote The Hobbit. It is great.",
            ["J. R. R. Tolkien wrote The Hobbit.", "It is great."],
        ),
        (
            "The author is J. K. Rowling. She is British.",
            ["The author is J. K. Rowling.", "She is British."],
        ),
        ("I prefer option B. It is cheaper.", ["I prefer option B.", "It is cheaper."]),
    ],
)
def test_initials(text: str, expected: list[str]) -> None:
    assert split(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pi is 3.14 roughly. Nice.", ["Pi is 3.14 roughly.", "Nice."]),
        ("It costs $4.50. That is cheap.", ["It costs $4.50.", "That is cheap."]),
        ("Upgrade to v1.2.3 today. It helps.", ["Upgrade to v1.2.3 today.", "It helps."]),
        ("We use v1.2. It works.", ["We use v1.2.", "It works."]),
        ("It was 1999. 2000 came next.", ["It was 1999.", "2000 came next."]),
        ("That is 1,000.50 dollars. Wow.", ["That is 1,000.50 dollars.", "Wow."]),
    ],
)
def test_numbers_and_decimals(text: str, expected: list[str]) -> None:
    assert split(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Visit example.com/path.html for more. Thanks.",
            ["Visit example.com/path.html for more.", "Thanks."],
        ),
        (
            "Go to https://docs.example.org/v2/index.html. Then read it.",
            ["Go to https://docs.example.org/v2/index.html.", "Then read it."],
        ),
        ("Mail a.b@c.io or call. Bye.", ["Mail a.b@c.io or call.", "Bye."]),
        ("My email is a.b@c.io. Write me.", ["My email is a.b@c.io.", "Write me."]),
        ("Try x.ai. Search it.", ["Try x.ai.", "Search it."]),
    ],
)
def test_urls_and_emails(text: str, expected: list[str]) -> None:
    assert split(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("He said \u201cStop!\u201d Then he left.", ["He said \u201cStop!\u201d", "Then he left."]),
        ("(This is an aside.) Next one.", ["(This is an aside.)", "Next one."]),
        ("It's done [see above.] Next.", ["It's done [see above.]", "Next."]),
        ('"Really?" she asked. "Yes."', ['"Really?" she asked.', '"Yes."']),
        ("He said 'go.' 'Now?' she asked.", ["He said 'go.'", "'Now?' she asked."]),
        ("This is **done.** Next part.", ["This is **done.**", "Next part."]),
    ],
)
def test_closing_quotes_and_brackets(text: str, expected: list[str]) -> None:
    assert split(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wait... what do you mean? Ok.", ["Wait... what do you mean?", "Ok."]),
        ("Well\u2026 maybe later. Ok.", ["Well\u2026 maybe later.", "Ok."]),
        ("Wait...what happened? Ok.", ["Wait...what happened?", "Ok."]),
        ("I was thinking... Maybe not.", ["I was thinking...", "Maybe not."]),
        ("Hello. ... And then?", ["Hello.", "... And then?"]),
    ],
)
def test_ellipses(text: str, expected: list[str]) -> None:
    assert split(text) == expected


def test_lowercase_continuation_is_not_a_boundary() -> None:
    assert split("Hello. world is lowercase here.") == ["Hello. world is lowercase here."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("First paragraph\n\nSecond paragraph", ["First paragraph", "Second paragraph"]),
        ("Windows\r\n\r\nlines too", ["Windows", "lines too"]),
        ("A heading\nBody text follows.", ["A heading", "Body text follows."]),
        ("Hard wrapped prose\ncontinues here.", ["Hard wrapped prose\ncontinues here."]),
        (
            "Options:\n1. Apples\n2. Pears\n- Plums",
            ["Options:", "1. Apples", "2. Pears", "- Plums"],
        ),
        ("Dr.\n\nSmith", ["Dr.", "Smith"]),
    ],
)
def test_newlines(text: str, expected: list[str]) -> None:
    assert split(text) == expected


def test_list_markers_are_not_sentences() -> None:
    assert split("1. Apples are red.") == ["1. Apples are red."]
    assert split("IV. Results are in.") == ["IV. Results are in."]


def test_short_sentences_are_merged_with_the_following_one() -> None:
    text = "Hi! Ok. This is a longer sentence here. Yes."
    assert split_sentences(text) == ["Hi! Ok. This is a longer sentence here.", "Yes."]


def test_merging_keeps_the_original_whitespace_between_sentences() -> None:
    assert split_sentences("Hi.\n\nThis is a long enough sentence.") == [
        "Hi.\n\nThis is a long enough sentence."
    ]


def test_merging_threshold_is_inclusive() -> None:
    text = "abcdefghijklmnopqr. Next short one."  # first sentence is exactly 19 characters
    assert split_sentences(text, min_sentence_len=19) == ["abcdefghijklmnopqr.", "Next short one."]
    assert split_sentences(text, min_sentence_len=20) == [text]


def test_short_last_sentence_stays_alone() -> None:
    text = "This sentence is definitely long enough. Ok."
    assert split_sentences(text) == ["This sentence is definitely long enough.", "Ok."]


def test_everything_short_becomes_one_chunk() -> None:
    assert split_sentences("Hi. Yo. Ok.") == ["Hi. Yo. Ok."]


def test_negative_min_sentence_len_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_sentence_len"):
        split_sentences("Hi.", min_sentence_len=-1)
