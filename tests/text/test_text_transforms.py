"""Tests for voice/text_transforms.py: markdown and emoji filters, streamed and batch."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterable, AsyncIterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxline.voice.text_transforms import (
    _MAX_LOOKAHEAD,
    BUILTIN_TEXT_TRANSFORMS,
    EmojiFilter,
    MarkdownFilter,
    apply_text_transforms,
    filter_emoji,
    filter_markdown,
    resolve_text_transforms,
    strip_emoji,
    strip_markdown,
)

# Replies shaped like LLM output, exercising every rule (and mixing them).
SAMPLES = [
    "Sure! Here's the **short** answer: *yes*, with __two__ _caveats_.",
    "## Steps\n\n1. Open the **Settings** app.\n2. Tap *Network*.\n3) Done!\n",
    "- first item\n* second item with `code`\n+ third: [the docs](https://example.com/a_(b)?q=1)\n",
    "Install it:\n```bash\npip install voxline  # **not bold**\n```\nThen run `voxline console`.",
    "| Plan | Price | Notes |\n|------|:-----:|-------|\n"
    "| Basic | $5 | *cheap* |\n| Pro | $20 | |\n",
    "> Quoted **wisdom**\n> > nested\n\nNormal text with snake_case_names and 2*3 = 6.",
    "Great job! 🎉 I ❤️ this 👨‍👩‍👧 family photo 🇫🇷 👍🏽 press 1️⃣ now.",
    "![A cat](https://img.example.com/cat.png) looks at [1] and array[0] ~5 min ~~old~~ new.",
    "Title\n===\n\nIntro text.\n\n---\n\n***bold italic*** and \\*escaped\\* stars.",
    "# Heading\n#hashtag is not a heading\n####### seven hashes\n"
    ">50% is not a quote\n2024. A year.",
]

EXPECTED = [
    "Sure! Here's the short answer: yes, with two caveats.",
    "Steps\n\nOpen the Settings app.\nTap Network.\nDone!\n",
    "first item\nsecond item with code\nthird: the docs\n",
    "Install it:\npip install voxline  # **not bold**\nThen run voxline console.",
    "Plan, Price, Notes\nBasic, $5, cheap\nPro, $20\n",
    "Quoted wisdom\nnested\n\nNormal text with snake_case_names and 2*3 = 6.",
    None,  # emoji only: markdown filter leaves it unchanged
    "A cat looks at 1 and array[0] ~5 min old new.",
    "Title\n\nIntro text.\n\n\nbold italic and *escaped* stars.",
    "Heading\n#hashtag is not a heading\n####### seven hashes\n>50% is not a quote\n2024. A year.",
]


def chunk(text: str, cuts: Sequence[int]) -> list[str]:
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def push_all(f: MarkdownFilter | EmojiFilter, pieces: Sequence[str]) -> str:
    return "".join(f.push(p) for p in pieces) + f.flush()


async def stream(pieces: Sequence[str]) -> AsyncIterator[str]:
    for p in pieces:
        yield p


async def collect(it: AsyncIterable[str]) -> str:
    return "".join([piece async for piece in it])


# ------------------------------------------------------------------ markdown: each rule


@pytest.mark.parametrize(("sample", "expected"), list(zip(SAMPLES, EXPECTED)))
def test_sample_replies(sample: str, expected: str | None) -> None:
    assert strip_markdown(sample) == (sample if expected is None else expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # emphasis: delimiters touching a word on one side only
        ("**bold**", "bold"),
        ("*italic*", "italic"),
        ("__bold__", "bold"),
        ("_italic_", "italic"),
        ("~~struck~~", "struck"),
        ("(*aside*)", "(aside)"),
        ("costs **$40**.", "costs $40."),
        # not emphasis: intraword or between spaces
        ("snake_case_name", "snake_case_name"),
        ("2*3", "2*3"),
        ("2 * 3", "2 * 3"),
        ("~5 minutes", "~5 minutes"),
        ("a_b_c d*e*f", "a_b_c d*e*f"),
        # inline code keeps its text verbatim
        ("run `ls -la` now", "run ls -la now"),
        ("`**kwargs` here", "**kwargs here"),
        ("``a ` b`` c", "a ` b c"),
        ("```inline triple``` x", "inline triple x"),
        # fences: fence lines dropped, content verbatim
        ("a\n```py\nx = *y*\n```\nb", "a\nx = *y*\nb"),
        ("~~~\ncode\n~~~\n", "code\n"),
        ("```\nunclosed *code*", "unclosed *code*"),
        ("````\n```\nstill code\n````\n", "```\nstill code\n"),
        # headings
        ("# One", "One"),
        ("###### Six", "Six"),
        ("####### Seven", "####### Seven"),
        ("#tag", "#tag"),
        ("   ## Indented", "Indented"),
        # list markers
        ("- a\n- b", "a\nb"),
        ("* a", "a"),
        ("+ a", "a"),
        ("1. a\n10) b", "a\nb"),
        ("  - nested", "nested"),
        ("1.5 litres", "1.5 litres"),
        ("-5 degrees", "-5 degrees"),
        ("1234. not a list", "1234. not a list"),
        # blockquotes
        ("> quote", "quote"),
        ("> - item in quote", "item in quote"),
        (">> deep", "deep"),
        (">50%", ">50%"),
        # links and images
        ("[text](http://x.y/z)", "text"),
        ("![alt text](img.png)", "alt text"),
        ("[**bold link**](u)", "bold link"),
        ("[a [b] c](u)", "a [b] c"),
        ("[no url] (later)", "no url (later)"),
        ("list[0]", "list[0]"),
        ("**[docs](u)**.", "docs."),
        # tables
        ("| a | b |\n|---|---|\n| 1 | 2 |", "a, b\n1, 2"),
        ("| a | | c |", "a, c"),
        ("|:-:|\n", ""),
        ("| cell with  two spaces |", "cell with  two spaces"),
        # rules
        ("---", ""),
        ("a\n- - -\nb", "a\nb"),
        ("a\n___\nb", "a\nb"),
        ("a\n***\nb", "a\nb"),
        ("--", "--"),
        # escapes
        ("\\*not italic\\*", "*not italic*"),
        ("C:\\path", "C:\\path"),
        ("end\\", "end\\"),
        # plain text is untouched
        ("Hello, world! How are you (really)?", "Hello, world! How are you (really)?"),
        ("", ""),
    ],
)
def test_markdown_rule(text: str, expected: str) -> None:
    assert strip_markdown(text) == expected


def test_line_that_long_is_not_a_rule() -> None:
    # caps are rules about the text, so streaming agrees with batch past them
    dashes = "-" * (_MAX_LOOKAHEAD + 10)
    assert strip_markdown(dashes) == dashes
    assert strip_markdown("---") == ""


# ------------------------------------------------------------------ markdown: streaming


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_single_split_and_char_by_char_match_batch(sample: str) -> None:
    want = strip_markdown(sample)
    for cut in range(len(sample) + 1):
        assert push_all(MarkdownFilter(), chunk(sample, [cut])) == want, cut
    assert push_all(MarkdownFilter(), list(sample)) == want


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_any_chunking_of_sample_replies_matches_batch(sample: str, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(sample)), max_size=len(sample) + 1))
    assert push_all(MarkdownFilter(), chunk(sample, cuts)) == strip_markdown(sample)
    assert push_all(EmojiFilter(), chunk(sample, cuts)) == strip_emoji(sample)


_TOKENS = [
    *"ab1 _*~`#>-+|[]()!\\\n:=.\t",
    "**", "```", "~~~", "1. ", "- ", "> ", "| ", "[x](y)", "![a](b)", "---\n", "|---|\n",
    "word", "snake_case", "2*3", "😀", "👍🏽", "\u200d", "\ufe0f", "🇫🇷", "  ",
]  # fmt: skip
markdownish = st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(text=markdownish, data=st.data())
def test_any_chunking_of_random_markdown_matches_batch(text: str, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=len(text) + 1))
    assert push_all(MarkdownFilter(), chunk(text, cuts)) == strip_markdown(text)
    assert push_all(EmojiFilter(), chunk(text, cuts)) == strip_emoji(text)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.sampled_from(SAMPLES), data=st.data())
async def test_async_transforms_match_batch_for_any_chunking(
    sample: str, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(sample)), max_size=len(sample) + 1))
    pieces = chunk(sample, cuts)
    assert await collect(filter_markdown(stream(pieces))) == strip_markdown(sample)
    assert await collect(filter_emoji(stream(pieces))) == strip_emoji(sample)
    both = apply_text_transforms(stream(pieces), ["filter_markdown", "filter_emoji"])
    assert await collect(both) == strip_emoji(strip_markdown(sample))


@given(rest=st.text(alphabet="abcXYZ019 ,.?'\"-:;()", max_size=80))
def test_plain_text_is_never_held_back(rest: str) -> None:
    text = "A" + rest  # a line that starts with a letter has no block marker
    f = MarkdownFilter()
    out = []
    for char in text:
        out.append(f.push(char))
        assert f.pending == ""
    out.append(f.flush())
    assert "".join(out) == text


_BOUND = _MAX_LOOKAHEAD + 8  # the look-ahead plus the longest fixed marker ("#######")


@settings(max_examples=200)
@given(text=markdownish)
def test_hold_is_bounded(text: str) -> None:
    f = MarkdownFilter()
    for char in text * 3:
        f.push(char)
        assert len(f.pending) <= _BOUND


@pytest.mark.parametrize(
    "line",
    [
        " " * 150 + "```" + "x" * 500,  # indented fence with a long info string
        "| --- | --- |" * 40,  # a separator-like row that never ends
        "-" * 500,
        "*" * 500 + "word",
        "`" * 500,
    ],
)
def test_hold_is_bounded_on_pathological_lines(line: str) -> None:
    f = MarkdownFilter()
    for char in line:
        f.push(char)
        assert len(f.pending) <= _BOUND
    f.flush()
    assert push_all(MarkdownFilter(), list(line)) == strip_markdown(line)


def test_markdown_is_released_as_soon_as_decided() -> None:
    f = MarkdownFilter()
    assert f.push("Here is **bo") == "Here is bo"
    assert f.push("ld** and [a li") == "ld and a li"
    assert f.push("nk](https://exa") == "nk"
    assert f.push("mple.com) done.\n#") == " done.\n"
    assert f.pending == "#"  # a heading marker, or "#tag"?
    assert f.push("# Head") == "Head"
    assert f.push("\n- ") == "\n"
    assert f.push("item") == "item"
    assert f.flush() == ""


def test_filter_is_reusable_after_flush() -> None:
    f = MarkdownFilter()
    assert f.push("```\ncode") == "code"
    assert f.flush() == ""
    assert f.push("**b** ") == "b "  # the fence state did not survive the flush
    assert f.flush() == ""


# ------------------------------------------------------------------ emoji


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Great job! 🎉", "Great job! "),
        ("🎉 Great", "Great"),
        ("I ❤️ you", "I you"),
        ("I❤️you", "Iyou"),
        ("thumbs 👍🏽 up", "thumbs up"),
        ("family 👨‍👩‍👧‍👦 ok", "family ok"),
        ("fire heart ❤️‍🔥!", "fire heart !"),
        ("flag 🇫🇷 and 🏴󠁧󠁢󠁳󠁣󠁴󠁿", "flag and "),
        ("press 1️⃣ or #️⃣", "press 1 or #"),
        ("☀️ sunny ⭐ star ⏰", "sunny star "),
        ("© 2024 ™ → ok", "© 2024 ™ → ok"),
        ("क्‍ष keeps its joiner", "क्‍ष keeps its joiner"),
        ("a\n😀\nb", "a\n\nb"),
        ("no emoji at all", "no emoji at all"),
    ],
)
def test_emoji_rule(text: str, expected: str) -> None:
    assert strip_emoji(text) == expected


def test_emoji_filter_never_holds_text() -> None:
    f = EmojiFilter()
    assert f.push("Hi ") == "Hi "
    assert f.push("👋") == ""
    assert f.push(" there") == "there"
    assert f.push("\u200d") == "\u200d"  # a joiner after text is not part of an emoji


# ------------------------------------------------------------------ apply_text_transforms


async def test_apply_text_transforms_chains_names_and_callables() -> None:
    async def shout(text: AsyncIterable[str]) -> AsyncIterator[str]:
        async for piece in text:
            yield piece.upper()

    out = apply_text_transforms(stream(["**hi** ", "there 🎉"]), ["filter_markdown", shout])
    assert await collect(out) == "HI THERE 🎉"
    out = apply_text_transforms(stream(["**hi** 🎉"]), list(BUILTIN_TEXT_TRANSFORMS))
    assert await collect(out) == "hi "


async def test_apply_text_transforms_none_or_empty_passes_through() -> None:
    assert await collect(apply_text_transforms(stream(["**a**"]), None)) == "**a**"
    assert await collect(apply_text_transforms(stream(["**a**"]), [])) == "**a**"


def test_unknown_transform_name_fails_at_once_listing_builtins() -> None:
    with pytest.raises(ValueError, match="filter_everything") as info:
        apply_text_transforms(stream([]), ["filter_everything"])
    assert "filter_markdown" in str(info.value)
    assert "filter_emoji" in str(info.value)


def test_bad_transform_entries_are_type_errors() -> None:
    with pytest.raises(TypeError):
        resolve_text_transforms([42])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        resolve_text_transforms("filter_markdown")


async def test_stopping_early_closes_the_source() -> None:
    closed = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            for i in range(1000):
                yield f"word{i} "
        finally:
            closed.set()

    out = apply_text_transforms(source(), ["filter_markdown", "filter_emoji"])
    assert await out.__anext__() == "word0 "
    await out.aclose()  # type: ignore[attr-defined]
    assert closed.is_set()
