"""Sentence splitting for text that arrives token by token from an LLM.

The point is latency: the TTS engine can start speaking the first sentence while the LLM is
still generating the rest of the reply. A sentence is released as soon as the boundary rules of
:mod:`voxline.tokenize.sentences` can decide it, which is usually when the first letter of the
next word arrives ("Hello there. H" is enough; "Dr. S" is not a boundary at all). Because the
rules never guess about text they have not seen, the sentences are exactly those that
:func:`~voxline.tokenize.split_sentences` returns for the whole reply, however it was chunked.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from .sentences import DEFAULT_MIN_SENTENCE_LEN, Segmenter

__all__ = ["DEFAULT_STREAM_CONTEXT_LEN", "SentenceStream", "stream_sentences"]

DEFAULT_STREAM_CONTEXT_LEN = 10


class SentenceStream:
    """Turn LLM text deltas into complete sentences as early as they are certain.

    ``stream_context_len`` is accepted for compatibility with look-ahead based tokenizers,
    which wait for that many characters after a terminator before trusting a split. This one
    never needs to guess: every boundary is decided from the whitespace run, up to three
    opening quotes and at most one word after the punctuation, so the parameter is validated
    but cannot delay or change any sentence. That keeps streaming output identical to the
    batch result, which a latency knob would not.

    The stream is reusable: :meth:`flush` ends one reply and resets the state for the next.
    """

    __slots__ = ("_segmenter", "_stream_context_len")

    def __init__(
        self,
        *,
        min_sentence_len: int = DEFAULT_MIN_SENTENCE_LEN,
        stream_context_len: int = DEFAULT_STREAM_CONTEXT_LEN,
    ) -> None:
        if stream_context_len < 0:
            raise ValueError(f"stream_context_len must be >= 0, got {stream_context_len}")
        self._segmenter = Segmenter(min_sentence_len=min_sentence_len)
        self._stream_context_len = stream_context_len

    @property
    def pending_text(self) -> str:
        """Text pushed but not yet emitted, e.g. to show or cancel on interruption."""
        return self._segmenter.pending

    def push_text(self, delta: str) -> list[str]:
        """Add an LLM delta; return the sentences it completed (often none)."""
        return self._segmenter.feed(delta)

    def flush(self) -> list[str]:
        """End the reply: return whatever is still pending, then reset for the next one."""
        return self._segmenter.feed("", final=True)


async def stream_sentences(
    text: AsyncIterable[str],
    *,
    min_sentence_len: int = DEFAULT_MIN_SENTENCE_LEN,
    stream_context_len: int = DEFAULT_STREAM_CONTEXT_LEN,
) -> AsyncIterator[str]:
    """Yield sentences from an async stream of LLM deltas, flushing when it ends.

    This is the shape a TTS stage consumes: it can ``async for`` over sentences without
    handling the push/flush protocol of :class:`SentenceStream` itself.
    """
    stream = SentenceStream(
        min_sentence_len=min_sentence_len, stream_context_len=stream_context_len
    )
    async for delta in text:
        for sentence in stream.push_text(delta):
            yield sentence
    for sentence in stream.flush():
        yield sentence
