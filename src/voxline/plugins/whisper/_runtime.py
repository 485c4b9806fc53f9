"""Whisper models loaded once per process and shared by every session in it.

This module holds the one piece of process-wide state of the plugin: a cache of loaded models
keyed by (model, compute type, threads). A model costs 75-145 MB of weights and 0.4-1 s to
load, so loading it per session would make a process of 20 sessions both slow to start and
large. Each loaded model transcribes one utterance at a time (a lock): on the two cores this
stack targets, two concurrent transcriptions would each take twice as long and starve the
LLM, so queueing them is both fairer and faster.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._files import ensure_files
from ._models import whisper_spec


class WhisperNotInstalledError(ImportError):
    """faster-whisper is missing: it comes with voxline's `local` extra."""


@dataclass(frozen=True)
class ModelKey:
    model: str
    compute_type: str
    cpu_threads: int


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    confidence: float
    """exp(mean token log-probability) over the segments: 1.0 is certain."""


class LoadedWhisper:
    """One loaded model; `transcribe` blocks, so call it from a worker thread."""

    def __init__(self, key: ModelKey, model: Any) -> None:
        self.key = key
        self._model = model
        self._lock = threading.Lock()
        self._tokenizers: dict[str, Any] = {}  # per language, made on first use

    def transcribe(
        self, audio: npt.NDArray[np.float32], *, language: str | None, beam_size: int
    ) -> Transcript:
        if language is not None and audio.size <= SHORT_WINDOW_MAX_SECONDS * SAMPLE_RATE:
            return self._transcribe_short(audio, language=language, beam_size=beam_size)
        with self._lock:
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=beam_size,
                # one greedy pass: the temperature fallback re-decodes hard audio up to 5
                # times, which turns a 0.4 s answer into seconds at the worst moment
                temperature=0.0,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,  # the session's VAD already cut the utterance
            )
            # decoding happens while the generator is consumed: keep it inside the lock
            found = list(segments)
        text = "".join(segment.text for segment in found).strip()
        if found:
            mean_logprob = sum(segment.avg_logprob for segment in found) / len(found)
            confidence = min(1.0, math.exp(mean_logprob))
        else:
            confidence = 0.0
        return Transcript(text=text, language=str(info.language), confidence=confidence)

    def _transcribe_short(
        self, audio: npt.NDArray[np.float32], *, language: str, beam_size: int
    ) -> Transcript:
        """One utterance through an encoder window fitted to it instead of Whisper's fixed
        30 s: the encoder's cost follows the window, so a 2 s utterance in a 5 s window takes
        about a quarter of the time (0.24 s instead of 0.98 s for tiny.en on two cores),
        with the same word error rate on our test sentences. Windows under 5 s, and
        unbounded output, make Whisper repeat itself: the window is at least 5 s, the output
        at most 8 tokens a second, and no 4-gram may repeat."""
        import ctranslate2  # type: ignore[import-untyped, unused-ignore]

        model = self._model
        features = model.feature_extractor(audio)
        frames = features.shape[-1]
        window = min(FULL_WINDOW_FRAMES, _round_up(max(MIN_WINDOW_FRAMES, frames + 100), 100))
        padded = np.zeros((1, features.shape[0], window), dtype=np.float32)
        padded[0, :, : min(frames, window)] = features[:, :window]
        tokenizer = self._tokenizer(language)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        seconds = audio.size / SAMPLE_RATE
        with self._lock:
            result = model.model.generate(
                ctranslate2.StorageView.from_array(padded),
                [prompt],
                beam_size=beam_size,
                max_length=min(448, len(prompt) + 8 + int(8 * seconds)),
                suppress_blank=True,
                suppress_tokens=[-1],
                no_repeat_ngram_size=4,
                return_scores=True,
            )[0]
        text = str(tokenizer.decode(result.sequences_ids[0])).strip()
        confidence = min(1.0, math.exp(result.scores[0])) if result.scores else 0.0
        return Transcript(text=text, language=language, confidence=confidence)

    def _tokenizer(self, language: str) -> Any:
        tokenizer = self._tokenizers.get(language)
        if tokenizer is None:
            from faster_whisper.tokenizer import (  # type: ignore[import-untyped, unused-ignore]
                Tokenizer,
            )

            model = self._model
            tokenizer = Tokenizer(
                model.hf_tokenizer,
                model.model.is_multilingual,
                task="transcribe",
                language=language,
            )
            self._tokenizers[language] = tokenizer
        return tokenizer


SAMPLE_RATE = 16000
FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s, in 10 ms feature frames
MIN_WINDOW_FRAMES = 500
SHORT_WINDOW_MAX_SECONDS = 25.0


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


_loaded: dict[ModelKey, LoadedWhisper] = {}
_loading: dict[ModelKey, threading.Lock] = {}
_guard = threading.Lock()


def loaded_whisper(key: ModelKey) -> LoadedWhisper | None:
    """The shared model for `key` if it is loaded already (no thread hop needed)."""
    with _guard:
        return _loaded.get(key)


def load_whisper(key: ModelKey, *, progress: bool = True) -> LoadedWhisper:
    """The shared model for `key`, fetched and loaded on first use (blocking)."""
    with _guard:
        loaded = _loaded.get(key)
        if loaded is not None:
            return loaded
        lock = _loading.setdefault(key, threading.Lock())
    # one loader per key; sessions asking for the same model meanwhile wait for it
    with lock:
        with _guard:
            loaded = _loaded.get(key)
        if loaded is not None:
            return loaded
        spec = whisper_spec(key.model)
        paths = ensure_files(spec.files, progress=progress)
        model_cls = _whisper_model_class()
        model = model_cls(
            str(paths[0].parent),
            device="cpu",
            compute_type=key.compute_type,
            cpu_threads=key.cpu_threads,
            local_files_only=True,
        )
        loaded = LoadedWhisper(key, model)
        with _guard:
            _loaded[key] = loaded
        return loaded


def _whisper_model_class() -> Any:
    try:
        from faster_whisper import WhisperModel  # type: ignore[import-untyped, unused-ignore]
    except ImportError as e:
        raise WhisperNotInstalledError(
            "the Whisper STT needs faster-whisper: pip install 'voxline[local]'"
        ) from e
    return WhisperModel
