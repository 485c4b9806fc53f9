"""Text splitting for speech: sentences for TTS, words and syllables for transcript pacing.

LLMs stream text token by token while TTS engines want whole sentences, so the sentence
splitter also comes in a streaming form that releases each sentence the moment it is certain
and always agrees with the batch splitter.
"""

from __future__ import annotations

from .sentences import split_sentences
from .stream import SentenceStream, stream_sentences
from .words import count_syllables, count_words, hyphenate_word, split_words

__all__ = [
    "SentenceStream",
    "count_syllables",
    "count_words",
    "hyphenate_word",
    "split_sentences",
    "split_words",
    "stream_sentences",
]
