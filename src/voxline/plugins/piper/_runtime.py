"""Piper voices loaded once per process, and sentence-by-sentence synthesis that can stop.

The process-wide state here is a cache of loaded voices by name (documented exception to "no
global state"): a voice is 63 MB of ONNX weights and 0.3-0.5 s to load, shared by every
session of the process. ONNX Runtime runs each synthesis on ONE intra-op thread: on two
cores, a TTS using both while the LLM decodes the next sentence with both was measured as the
worst case of the whole stack, while one thread costs only ~50 ms per sentence.

piper-tts is GPL-3.0-or-later, so it is imported only here, only when a voice is loaded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .._files import ensure_files
from ._phrases import PhraseCache
from ._voices import VoiceSpec, voice_spec

if TYPE_CHECKING:
    from piper import PiperVoice


class PiperNotInstalledError(ImportError):
    """piper-tts is missing: it is voxline's optional `piper` extra (GPL-3.0-or-later)."""


_INSTALL_HINT = (
    "the Piper TTS needs the piper-tts package, which is GPL-3.0-or-later and therefore an "
    "optional extra: pip install 'voxline[piper]' (or use the espeak-ng TTS, "
    "voxline.plugins.espeak)"
)


def require_piper() -> None:
    """Fail early, when the TTS is built, rather than at the first sentence of a reply."""
    try:
        import piper  # noqa: F401
    except ImportError as e:
        raise PiperNotInstalledError(_INSTALL_HINT) from e


def piper_available() -> bool:
    try:
        require_piper()
    except PiperNotInstalledError:
        return False
    return True


class SynthesisStop:
    """Stops a synthesis from another thread: between sentences, and inside the running ONNX
    call (`RunOptions.terminate`), so a barge-in frees the core within milliseconds."""

    def __init__(self) -> None:
        import onnxruntime  # type: ignore[import-untyped, unused-ignore]

        self._event = threading.Event()
        self.run_options: Any = onnxruntime.RunOptions()

    def set(self) -> None:
        self._event.set()
        self.run_options.terminate = True

    def is_set(self) -> bool:
        return self._event.is_set()


class LoadedVoice:
    def __init__(self, spec: VoiceSpec, voice: PiperVoice) -> None:
        self.spec = spec
        self._voice = voice
        self._phrase_caches: dict[tuple[float, float, int | None], PhraseCache] = {}
        self._phrase_lock = threading.Lock()
        self.sample_rate = int(voice.config.sample_rate)
        self.num_speakers = int(voice.config.num_speakers)

    def phrase_cache(self, speed: float, volume: float, speaker: int | None) -> PhraseCache:
        """The rendered short sentences of this voice with these options."""
        with self._phrase_lock:
            return self._phrase_caches.setdefault((speed, volume, speaker), PhraseCache())

    def synthesize(
        self,
        text: str,
        *,
        speed: float,
        volume: float,
        speaker: int | None,
        stop: SynthesisStop,
        on_audio: Callable[[npt.NDArray[np.int16]], None],
    ) -> None:
        """Blocking: calls `on_audio` once per sentence as soon as it is rendered."""
        voice = self._voice
        config = voice.config
        scales = np.array(
            [config.noise_scale, config.length_scale / speed, config.noise_w_scale],
            dtype=np.float32,
        )
        for phonemes in voice.phonemize(text):
            if stop.is_set():
                return
            if not phonemes:
                continue
            ids = voice.phonemes_to_ids(phonemes)
            inputs: dict[str, Any] = {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": scales,
            }
            if self.num_speakers > 1:
                inputs["sid"] = np.array([speaker or 0], dtype=np.int64)
            try:
                result = voice.session.run(None, inputs, stop.run_options)
            except Exception:
                if stop.is_set():
                    return  # terminated on purpose
                raise
            on_audio(_to_pcm(np.asarray(result[0]).reshape(-1), volume))


def _to_pcm(audio: npt.NDArray[Any], volume: float) -> npt.NDArray[np.int16]:
    """Peak-normalised like the voice was trained to sound, then scaled by `volume`."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-8:
        return np.zeros(audio.size, dtype=np.int16)
    scaled = np.clip(audio * (volume / peak), -1.0, 1.0)
    return (scaled * 32767.0).astype(np.int16)


_loaded: dict[str, LoadedVoice] = {}
_loading: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def loaded_voice(name: str) -> LoadedVoice | None:
    with _guard:
        return _loaded.get(name)


def load_voice(name: str, *, progress: bool = True) -> LoadedVoice:
    """The shared voice `name`, fetched and loaded on first use (blocking)."""
    with _guard:
        loaded = _loaded.get(name)
        if loaded is not None:
            return loaded
        lock = _loading.setdefault(name, threading.Lock())
    with lock:
        with _guard:
            loaded = _loaded.get(name)
        if loaded is not None:
            return loaded
        spec = voice_spec(name)
        model_path, config_path = ensure_files(spec.files, progress=progress)
        loaded = LoadedVoice(spec, _load_piper_voice(str(model_path), str(config_path)))
        with _guard:
            _loaded[name] = loaded
        return loaded


def _load_piper_voice(model_path: str, config_path: str) -> PiperVoice:
    require_piper()
    import onnxruntime  # type: ignore[import-untyped, unused-ignore]
    from piper import PiperConfig, PiperVoice

    with open(config_path, encoding="utf-8") as fh:
        config = PiperConfig.from_dict(json.load(fh))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model_path, sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=config)
