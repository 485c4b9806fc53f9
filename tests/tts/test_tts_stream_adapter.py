"""tts.StreamAdapter: streamed text is synthesized sentence by sentence, first one early."""

from __future__ import annotations

import asyncio

import pytest

from voxline.testing import FakeActions, FakeTTS
from voxline.tts import StreamAdapter


@pytest.mark.virtual_time
async def test_sentences_are_synthesized_as_soon_as_they_are_complete() -> None:
    actions = FakeActions()
    first = "Hello there, how are you doing today?"
    second = "I hope the weather is nice where you are."
    actions.add_tts(1.0, input=first, ttfb=0.1)
    actions.add_tts(2.0, input=second, ttfb=0.1)
    batch = FakeTTS(actions, streaming=False)
    stream = StreamAdapter(tts=batch).stream()
    loop = asyncio.get_running_loop()
    first_audio: list[float] = []
    total = 0.0

    async def read() -> None:
        nonlocal total
        async for audio in stream:
            if not first_audio:
                first_audio.append(loop.time())
            total += audio.frame.duration

    reader = loop.create_task(read())
    text = f"{first} {second}"
    for i in range(0, len(text), 4):  # an LLM streaming 4 characters every 50 ms
        stream.push_text(text[i : i + 4])
        await asyncio.sleep(0.05)
    stream.end_input()
    await reader
    assert batch.inputs == [first, second]
    assert abs(total - 3.0) < 1e-6
    # the first sentence played long before the LLM finished writing
    assert first_audio[0] < 0.05 * (len(text) // 4)


@pytest.mark.virtual_time
async def test_a_short_opener_goes_out_alone_then_short_sentences_are_grouped() -> None:
    actions = FakeActions()
    opener, rest = "Sure.", "It is ten. Ok. The weather is fine."
    for text in (opener, rest):
        actions.add_tts(0.5, input=text, ttfb=0.05)
    batch = FakeTTS(actions, streaming=False)
    stream = StreamAdapter(tts=batch).stream()
    loop = asyncio.get_running_loop()
    heard: list[float] = []

    async def read() -> None:
        async for _ in stream:
            heard.append(loop.time())

    reader = loop.create_task(read())
    start = loop.time()
    for word in f"{opener} {rest}".split(" "):  # one word every 100 ms
        stream.push_text(word + " ")
        await asyncio.sleep(0.1)
    stream.end_input()
    await reader
    # "Sure." alone, as soon as the next word showed it was a sentence; the short ones
    # after it are merged (under 20 characters) as usual
    assert batch.inputs == [opener, rest]
    assert heard[0] - start < 0.3


def test_first_sentence_min_len_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="first_sentence_min_len"):
        StreamAdapter(tts=FakeTTS(FakeActions(), streaming=False), first_sentence_min_len=-1)
