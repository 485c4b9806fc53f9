"""tts.StreamAdapter and one-word openers: "Sure." is synthesized as soon as its "." is
written, not when the model writes the next word, so a reply's first audio does not wait on
the LLM's next token."""

from __future__ import annotations

import asyncio

import pytest

from voxline.testing import FakeActions, FakeTTS
from voxline.tokenize import split_sentences
from voxline.tts import StreamAdapter, SynthesizeStream


def _batch_tts(*sentences: str) -> FakeTTS:
    actions = FakeActions()
    for sentence in sentences:
        actions.add_tts(0.5, input=sentence, ttfb=0.05, duration=0.1)
    return FakeTTS(actions, streaming=False)


class Listener:
    """Reads a synthesize stream: when audio came (loop time) and the text each sentence's
    first frame carries."""

    def __init__(self, stream: SynthesizeStream) -> None:
        self.audio_at: list[float] = []
        self.texts: list[str] = []
        self.task = asyncio.get_running_loop().create_task(self._read(stream))

    async def _read(self, stream: SynthesizeStream) -> None:
        loop = asyncio.get_running_loop()
        async for audio in stream:
            self.audio_at.append(round(loop.time(), 3))
            if audio.delta_text:
                self.texts.append(audio.delta_text)


@pytest.mark.virtual_time
async def test_an_opener_is_synthesized_before_the_next_word_is_written() -> None:
    """The model writes "Sure" and "." at once, then takes 0.5 s over the next words (a
    tool call, a slow first token of the answer): "Sure." is already playing by then."""
    reply = "Sure. The capital is Paris."
    tts = _batch_tts("Sure.", "The capital is Paris.")
    stream = StreamAdapter(tts=tts).stream()
    listener = Listener(stream)
    stream.push_text("Sure")
    await asyncio.sleep(0.05)
    assert tts.inputs == []  # "Sure" may still become "Surely"
    stream.push_text(".")
    await asyncio.sleep(0.5)
    assert tts.inputs == ["Sure."]
    assert listener.audio_at and listener.audio_at[0] == pytest.approx(0.1)  # 0.05 + ttfb
    stream.push_text(" The capital is Paris.")
    stream.end_input()
    await listener.task
    assert tts.inputs == ["Sure.", "The capital is Paris."]
    assert tts.inputs == split_sentences(reply, min_sentence_len=0)
    assert " ".join(listener.texts) == reply


@pytest.mark.virtual_time
async def test_a_word_that_may_go_on_waits_for_the_next_word() -> None:
    """ "Dr." and "No." end like openers but usually continue ("Dr. Smith", "No. 5"):
    speaking them alone would split the sentence."""
    for head, tail in (("Dr", " Smith is here."), ("No", " 5 is the answer.")):
        sentence = f"{head}.{tail}"
        tts = _batch_tts(sentence)
        stream = StreamAdapter(tts=tts).stream()
        listener = Listener(stream)
        stream.push_text(head)
        stream.push_text(".")
        await asyncio.sleep(0.5)
        assert tts.inputs == [], head
        stream.push_text(tail)
        stream.end_input()
        await listener.task
        assert tts.inputs == [sentence]


@pytest.mark.virtual_time
async def test_only_the_first_sentence_of_a_reply_is_spoken_as_an_opener() -> None:
    """Later in the reply nothing waits on a first sound any more: a short "Okay." is
    grouped with what follows, as short sentences are (fewer synthesis calls)."""
    tts = _batch_tts("It is ten.", "Okay. See you then, goodbye.")
    stream = StreamAdapter(tts=tts).stream()
    listener = Listener(stream)
    for piece in ("It is ten.", " Okay", "."):
        stream.push_text(piece)
        await asyncio.sleep(0.2)
    assert tts.inputs == ["It is ten."]
    stream.push_text(" See you then, goodbye.")
    stream.end_input()
    await listener.task
    assert tts.inputs == ["It is ten.", "Okay. See you then, goodbye."]


@pytest.mark.virtual_time
async def test_each_segment_may_open_with_its_own_opener() -> None:
    """A flush ends one reply's text; the next one starts over and its "Okay." goes out
    alone again."""
    tts = _batch_tts("Sure.", "Done.", "Okay.")
    stream = StreamAdapter(tts=tts).stream()
    listener = Listener(stream)
    stream.push_text("Sure.")
    await asyncio.sleep(0.2)
    stream.push_text(" Done.")
    stream.flush()
    await asyncio.sleep(0.2)
    stream.push_text("Okay.")
    await asyncio.sleep(0.2)
    assert tts.inputs == ["Sure.", "Done.", "Okay."]
    stream.end_input()
    await listener.task
