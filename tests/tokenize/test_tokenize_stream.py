from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxline.tokenize import SentenceStream, split_sentences, stream_sentences

# Tokens that exercise every rule, so random texts hit the tricky look-ahead cases often.
_TOKENS = [
    "Hello", "there", "how", "are", "you", "It", "The", "the", "A", "a", "I", "Then", "Smith",
    "Dr.", "Mr.", "Mrs.", "St.", "e.g.", "i.e.", "etc.", "vs.", "U.S.", "a.m.", "p.m.", "Inc.",
    "Jr.", "No.", "Fig.", "J.", "R.", "B.", "1.", "42.", "3.14", "$4.50", "v1.2", "1,000",
    "example.com/path.html", "a.b@c.io", "Ph.D.", "x.ai.", "IV.", "...", "\u2026", "?", "!",
    ".", "?!", '"', "'", "\u201c", "\u201d", "(", ")", "[", "]", "**", "-", "5", "x",
]  # fmt: skip
_SEPARATORS = ["", " ", " ", " ", "  ", "\n", "\n\n", "\r\n", "\t", " \n "]

token_texts = st.lists(
    st.tuples(st.sampled_from(_TOKENS), st.sampled_from(_SEPARATORS)), max_size=40
).map(lambda pairs: "".join(token + sep for token, sep in pairs))
raw_texts = st.text(alphabet="aAbZ1 .!?\u2026\n\r\"')(*_-@/,", max_size=80)
texts = st.one_of(token_texts, raw_texts)
min_lens = st.sampled_from([0, 1, 5, 20, 60])


def run_stream(deltas: Sequence[str], **kwargs: int) -> tuple[list[str], list[list[str]]]:
    """Push ``deltas``; return all sentences and what each push (then the flush) emitted."""
    stream = SentenceStream(**kwargs)
    per_push = [stream.push_text(delta) for delta in deltas]
    per_push.append(stream.flush())
    return [sentence for emitted in per_push for sentence in emitted], per_push


def chunk(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(cuts), len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


def normalise(sentences: Sequence[str]) -> str:
    return " ".join(" ".join(sentences).split())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, min_len=min_lens, data=st.data())
def test_streaming_equals_batch_for_any_chunking(
    text: str, min_len: int, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=len(text) + 1))
    streamed, _ = run_stream(chunk(text, cuts), min_sentence_len=min_len)
    batch = split_sentences(text, min_sentence_len=min_len)
    assert streamed == batch
    assert normalise(streamed) == normalise(batch)


@settings(max_examples=200)
@given(text=texts, min_len=min_lens)
def test_char_by_char_equals_batch(text: str, min_len: int) -> None:
    streamed, _ = run_stream(list(text), min_sentence_len=min_len)
    assert streamed == split_sentences(text, min_sentence_len=min_len)


@settings(max_examples=300)
@given(text=texts, min_len=min_lens)
def test_batch_loses_no_text_and_returns_stripped_sentences(text: str, min_len: int) -> None:
    sentences = split_sentences(text, min_sentence_len=min_len)
    assert " ".join(sentences).split() == text.split()
    for sentence in sentences:
        assert sentence
        assert sentence == sentence.strip()
    for sentence in sentences[:-1]:
        assert len(sentence) >= min_len


def test_first_sentence_is_emitted_before_the_stream_ends() -> None:
    text = "Hello there, how are you doing today? I am fine."
    _, per_push = run_stream(list(text))
    first = "Hello there, how are you doing today?"
    # The sentence is released as soon as the capital "I" shows it is complete.
    assert per_push[text.index("I")] == [first]
    assert all(not emitted for emitted in per_push[: text.index("I")])
    assert per_push[-1] == ["I am fine."]


def test_realistic_llm_tokens() -> None:
    deltas = ["Sure", "!", " The", " weather", " in", " St", ".", " Louis", " is", " nice", "."]
    deltas += [" It", " is", " 21.5", " degrees", " today", ".", " Enjoy", "!"]
    streamed, per_push = run_stream(deltas)
    assert streamed == split_sentences("".join(deltas))
    assert streamed == [
        "Sure! The weather in St. Louis is nice.",
        "It is 21.5 degrees today.",
        "Enjoy!",
    ]
    assert per_push[11] == ["Sure! The weather in St. Louis is nice."]  # on " It"


def test_title_abbreviation_does_not_release_a_sentence() -> None:
    stream = SentenceStream(min_sentence_len=0)
    emitted = [stream.push_text(char) for char in "I called Dr. Smith yesterday. "]
    assert not any(emitted)
    assert stream.push_text("He") == ["I called Dr. Smith yesterday."]


def test_ambiguous_abbreviation_waits_for_the_whole_next_word() -> None:
    stream = SentenceStream(min_sentence_len=0)
    assert stream.push_text("I live in the U.S. Th") == []
    assert stream.push_text("e") == []
    assert stream.push_text(" ") == ["I live in the U.S."]
    assert stream.flush() == ["The"]


def test_pending_text_and_reuse_after_flush() -> None:
    stream = SentenceStream(min_sentence_len=0)
    assert stream.push_text("One sentence here. Another") == ["One sentence here."]
    assert stream.pending_text == " Another"
    assert stream.flush() == ["Another"]
    assert stream.pending_text == ""
    assert stream.push_text("Second reply. Yes") == ["Second reply."]
    assert stream.flush() == ["Yes"]


def test_flush_of_empty_stream() -> None:
    stream = SentenceStream()
    assert stream.push_text("") == []
    assert stream.flush() == []


@pytest.mark.parametrize("context_len", [0, 1, 10, 100])
def test_stream_context_len_never_changes_the_result(context_len: int) -> None:
    text = "Hello there. The U.S. Army is big. Dr. Smith agrees. e.g. Paris! Ok."
    streamed, _ = run_stream(list(text), min_sentence_len=0, stream_context_len=context_len)
    assert streamed == split_sentences(text, min_sentence_len=0)


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="stream_context_len"):
        SentenceStream(stream_context_len=-1)
    with pytest.raises(ValueError, match="min_sentence_len"):
        SentenceStream(min_sentence_len=-1)


def test_stream_sentences_async_helper() -> None:
    text = "Hello there, how are you doing today? I am fine. Thanks for asking!"

    async def deltas() -> AsyncIterator[str]:
        for i in range(0, len(text), 3):
            yield text[i : i + 3]

    async def collect() -> list[str]:
        return [s async for s in stream_sentences(deltas(), min_sentence_len=5)]

    assert asyncio.run(collect()) == split_sentences(text, min_sentence_len=5)


def test_stream_sentences_yields_before_the_input_ends() -> None:
    text = "Hello there, how are you doing today? I am fine."
    pushed: list[int] = []

    async def deltas() -> AsyncIterator[str]:
        for i, char in enumerate(text):
            pushed.append(i)
            yield char

    async def first() -> tuple[str, int]:
        async for sentence in stream_sentences(deltas()):
            return sentence, pushed[-1]
        raise AssertionError("no sentence")

    sentence, at = asyncio.run(first())
    assert sentence == "Hello there, how are you doing today?"
    assert at == text.index("I")


def test_long_unpunctuated_input_is_linear_enough() -> None:
    stream = SentenceStream()
    words = "word " * 20_000
    for i in range(0, len(words), 4):
        assert stream.push_text(words[i : i + 4]) == []
    assert stream.flush() == [words.strip()]
