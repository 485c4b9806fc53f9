"""Offline neural text-to-speech with Piper (optional `piper` extra, GPL-3.0-or-later).

Piper renders one sentence per ONNX call, so the TTS is not a streaming one: the session wraps
it in `voxline.tts.StreamAdapter`, which hands it each sentence as soon as the LLM finishes
writing it. Within one `synthesize(text)` call every sentence's audio is emitted the moment
Piper renders it, so a multi-sentence text starts playing after its first sentence.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ... import tts
from ..._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from ..._utils.aio import Chan, now
from ...audio import AudioFrame, split_frame
from ._phrases import PHRASE_CACHE_CHARS, PhraseCache
from ._runtime import LoadedVoice, SynthesisStop, load_voice, loaded_voice, require_piper
from ._voices import VOICES, voice_spec

logger = logging.getLogger("voxline.plugins.piper")

FRAME_SECONDS = 0.02
"""Frames as small as the output path moves them, so an interruption is heard within one."""

WARM_PHRASES = ("Sure.", "Okay.", "Yes.", "Certainly.", "Right.", "Hello!", "Sorry.")
"""Rendered by `prewarm()`, so even the first reply's opener plays at once (about 60 ms of
synthesis each, in the background while the session starts)."""


class TTS(tts.TTS):
    """`TTS(voice="en_US-joe-medium")`: Piper at 22 050 Hz mono.

    `speed` > 1 speaks faster (it divides the voice's length scale), `volume` scales the
    peak-normalised audio, `speaker` picks a speaker of a multi-speaker voice.
    """

    def __init__(
        self,
        voice: str = "en_US-joe-medium",
        *,
        speed: float = 1.0,
        volume: float = 1.0,
        speaker: int | None = None,
        warm_phrases: Sequence[str] = WARM_PHRASES,
    ) -> None:
        spec = voice_spec(voice)
        require_piper()
        if not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed must be between 0.25 and 4.0, got {speed}")
        if not 0.0 <= volume <= 4.0:
            raise ValueError(f"volume must be between 0.0 and 4.0, got {volume}")
        if speaker is not None and not 0 <= speaker < spec.num_speakers:
            raise ValueError(
                f"voice {voice} has {spec.num_speakers} speaker(s): speaker must be None or "
                f"0..{spec.num_speakers - 1}, got {speaker}"
            )
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=spec.sample_rate,
            num_channels=1,
        )
        self._voice = voice
        self._speed = speed
        self._volume = volume
        self._speaker = speaker
        self._warm_phrases = tuple(p.strip() for p in warm_phrases if p.strip())
        too_long = [p for p in self._warm_phrases if len(p) > PHRASE_CACHE_CHARS]
        if too_long:
            raise ValueError(
                f"warm_phrases must be at most {PHRASE_CACHE_CHARS} characters: {too_long}"
            )
        self._warming: threading.Thread | None = None

    def _phrase_cache(self, voice: LoadedVoice) -> PhraseCache:
        return voice.phrase_cache(self._speed, self._volume, self._speaker)

    @property
    def phrases(self) -> list[str]:
        """The short sentences kept rendered for this voice and these options (shared by
        every TTS of the process that has them), least recently used first."""
        voice = loaded_voice(self._voice)
        return self._phrase_cache(voice).phrases() if voice is not None else []

    @property
    def model(self) -> str:
        return f"piper-{self._voice}"

    @property
    def label(self) -> str:
        return f"voxline.plugins.piper.TTS({self._voice})"

    @staticmethod
    def voices() -> list[str]:
        return sorted(VOICES)

    def prewarm(self) -> None:
        """In a background thread: fetch and load the voice, then render `warm_phrases`
        into the phrase cache. Errors are logged here and raised again by the first
        synthesis. Once per TTS object."""
        if self._warming is not None:
            return

        def warm() -> None:
            try:
                voice = load_voice(self._voice)
                cache = self._phrase_cache(voice)
                with cache.warming:
                    for phrase in self._warm_phrases:
                        if cache.get(phrase) is None:
                            cache.put(phrase, self._render(voice, phrase))
            except Exception:
                logger.exception("prewarming %s failed", self.label)

        self._warming = threading.Thread(target=warm, name=f"prewarm-{self.model}", daemon=True)
        self._warming.start()

    def _render(self, voice: LoadedVoice, text: str) -> npt.NDArray[np.int16]:
        """Blocking: the whole text's audio at once."""
        parts: list[npt.NDArray[np.int16]] = []
        voice.synthesize(
            text,
            speed=self._speed,
            volume=self._volume,
            speaker=self._speaker,
            stop=SynthesisStop(),
            on_audio=parts.append,
        )
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    async def load(self) -> LoadedVoice:
        """The shared voice, loaded off the event loop on first use."""
        loaded = loaded_voice(self._voice)
        if loaded is not None:
            return loaded
        started = now()
        loaded = await asyncio.get_running_loop().run_in_executor(None, load_voice, self._voice)
        logger.info("%s loaded in %.2f s", self.label, now() - started)
        return loaded

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _PiperStream(self, text, conn_options=conn_options)


class _PiperStream(tts.ChunkedStream):
    async def _run(self) -> None:
        piper_tts = self._tts
        assert isinstance(piper_tts, TTS)
        text = self._text.strip()
        if not text:
            return
        voice = await piper_tts.load()
        samples = max(1, round(FRAME_SECONDS * voice.sample_rate))
        phrases = piper_tts._phrase_cache(voice)
        cached = phrases.get(text)
        if cached is not None:
            for frame in split_frame(
                AudioFrame(cached, voice.sample_rate, 1, cached.size), samples
            ):
                self._emit(frame)
            return
        rendered: list[npt.NDArray[np.int16]] = []
        loop = asyncio.get_running_loop()
        sentences: Chan[npt.NDArray[np.int16]] = Chan()
        stop = SynthesisStop()

        def deliver(pcm: npt.NDArray[np.int16]) -> None:
            if not sentences.closed:
                sentences.send_nowait(pcm)

        def from_worker(pcm: npt.NDArray[np.int16]) -> None:
            loop.call_soon_threadsafe(deliver, pcm)

        work = functools.partial(
            voice.synthesize,
            self._text,
            speed=piper_tts._speed,
            volume=piper_tts._volume,
            speaker=piper_tts._speaker,
            stop=stop,
            on_audio=from_worker,
        )
        worker = loop.run_in_executor(None, work)
        # the worker's last deliveries were scheduled before its completion: close after them
        worker.add_done_callback(lambda _: sentences.close())
        try:
            async for pcm in sentences:
                rendered.append(pcm)
                sentence = AudioFrame(pcm, voice.sample_rate, 1, pcm.size)
                for frame in split_frame(sentence, samples):
                    self._emit(frame)
            await worker
            if rendered:
                phrases.put(text, np.concatenate(rendered))
        finally:
            if not worker.done():
                stop.set()  # cancelled: end the ONNX call now instead of after the sentence
                await asyncio.wait([worker])
