"""Streams a non-streaming TTS: text is cut into sentences and each is synthesized as soon
as it is complete, so the first sentence plays while the LLM is still writing."""

from __future__ import annotations

from .._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from .._utils.aio import Chan, SegmentEnd
from ..tokenize import SentenceStream
from ..tokenize.sentences import is_opener
from .tts import TTS, ChunkedStream, SynthesizedAudio, SynthesizeStream, TTSCapabilities


class StreamAdapter(TTS):
    """`min_sentence_len` merges short sentences into the next one (fewer, more natural TTS
    calls), except for a reply's first sentence, which goes out as soon as it reaches
    `first_sentence_min_len`: a short opener ("Sure.") then starts the audio while the model
    is still writing the rest."""

    def __init__(
        self,
        *,
        tts: TTS,
        min_sentence_len: int = 20,
        stream_context_len: int = 10,
        first_sentence_min_len: int = 0,
    ):
        if first_sentence_min_len < 0:
            raise ValueError(f"first_sentence_min_len must be >= 0, got {first_sentence_min_len}")
        super().__init__(
            capabilities=TTSCapabilities(streaming=True, aligned_transcript=False),
            sample_rate=tts.sample_rate,
            num_channels=tts.num_channels,
        )
        self._tts = tts
        self._min_sentence_len = min_sentence_len
        self._first_sentence_min_len = first_sentence_min_len
        self._stream_context_len = stream_context_len

    @property
    def wrapped_tts(self) -> TTS:
        return self._tts

    @property
    def label(self) -> str:
        return f"StreamAdapter({self._tts.label})"

    def prewarm(self) -> None:
        self._tts.prewarm()

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return self._tts.synthesize(text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> SynthesizeStream:
        return _AdapterStream(self, conn_options=conn_options)


class _AdapterStream(SynthesizeStream):
    def __init__(self, adapter: StreamAdapter, *, conn_options: APIConnectOptions) -> None:
        super().__init__(adapter, conn_options=conn_options)
        self._adapter = adapter

    async def _run(self, text: Chan[str | SegmentEnd]) -> None:
        splitter = self._new_splitter(first=True)
        first = True
        async for piece in text:
            if isinstance(piece, str):
                sentences = splitter.push_text(piece)
                if first and not sentences and is_opener(splitter.pending_text):
                    # "Sure." is a sentence already: speak it without waiting for a word more
                    sentences = [splitter.pending_text.strip()]
                    splitter = self._new_splitter(first=True)
                if first and sentences:
                    # the first sentence is out: the rest of the reply is grouped as usual
                    first = False
                    rest = splitter.pending_text
                    splitter = self._new_splitter(first=False)
                    sentences += splitter.push_text(rest)
            else:
                sentences = splitter.flush()
                splitter, first = self._new_splitter(first=True), True
            for sentence in sentences:
                await self._synthesize(sentence)
        for sentence in splitter.flush():
            await self._synthesize(sentence)

    def _new_splitter(self, *, first: bool) -> SentenceStream:
        adapter = self._adapter
        min_len = adapter._first_sentence_min_len if first else adapter._min_sentence_len
        return SentenceStream(
            min_sentence_len=min_len, stream_context_len=adapter._stream_context_len
        )

    async def _synthesize(self, sentence: str) -> None:
        if not sentence.strip():
            return
        stream = self._adapter._tts.synthesize(sentence, conn_options=self._conn_options)
        first = True
        try:
            async for audio in stream:
                delta = sentence if first else ""
                self._emit(SynthesizedAudio(frame=audio.frame, delta_text=delta))
                first = False
        finally:
            await stream.aclose()  # interrupted: stop the sentence's synthesis task too
