"""Silero VAD on onnxruntime: `VAD.load()` once per process, one stream per audio input."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._utils.aio import Chan, ChanClosed, now
from ...audio import AudioFrame, AudioResampler, remix_channels
from ...vad import VAD as VADBase
from ...vad import VADCapabilities, VADEvent, VADEventType
from ...vad import VADStream as VADStreamBase
from ._model import SileroModel, StreamState, executor, load_model, window_size
from ._tracker import SpeechTracker, Transition, VADOptions, default_deactivation

__all__ = ["VAD", "VADOptions", "VADStream"]

logger = logging.getLogger("voxline.plugins.silero")


class VAD(VADBase):
    """Speech detection with the Silero v6 model (MIT), on CPU with one thread.

    Events carry the speech probability, the speech and silence durations counted in audio
    (not wall time), and the speech frames at the model's sample rate (mono): START_OF_SPEECH
    has the prefix padding and the speech so far, END_OF_SPEECH the whole segment.
    """

    def __init__(self, *, model: SileroModel, opts: VADOptions) -> None:
        super().__init__(capabilities=VADCapabilities(update_interval=0.032))
        self._model = model
        self._opts = opts

    @classmethod
    def load(
        cls,
        *,
        min_speech_duration: float = 0.05,
        min_silence_duration: float = 0.55,
        prefix_padding_duration: float = 0.5,
        max_buffered_speech: float = 60.0,
        activation_threshold: float = 0.5,
        deactivation_threshold: float | None = None,
        sample_rate: int = 16000,
        force_cpu: bool = True,
        progress: bool = True,
    ) -> VAD:
        """Load the model (fetched into the cache on first use; blocking: call it in a
        prewarm hook or a thread). `deactivation_threshold` defaults to activation - 0.15."""
        opts = VADOptions(
            min_speech_duration=min_speech_duration,
            min_silence_duration=min_silence_duration,
            prefix_padding_duration=prefix_padding_duration,
            max_buffered_speech=max_buffered_speech,
            activation_threshold=activation_threshold,
            deactivation_threshold=(
                default_deactivation(activation_threshold)
                if deactivation_threshold is None
                else deactivation_threshold
            ),
            sample_rate=sample_rate,
        )
        return cls(model=load_model(force_cpu=force_cpu, progress=progress), opts=opts)

    @property
    def options(self) -> VADOptions:
        return self._opts

    @property
    def label(self) -> str:
        return "silero.VAD"

    def update_options(
        self,
        *,
        min_speech_duration: float | None = None,
        min_silence_duration: float | None = None,
        prefix_padding_duration: float | None = None,
        max_buffered_speech: float | None = None,
        activation_threshold: float | None = None,
        deactivation_threshold: float | None = None,
    ) -> None:
        """Change thresholds and durations; open streams follow from their next window. The
        sample rate is fixed at load time (the streams' recurrent state depends on it)."""
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "min_speech_duration": min_speech_duration,
                "min_silence_duration": min_silence_duration,
                "prefix_padding_duration": prefix_padding_duration,
                "max_buffered_speech": max_buffered_speech,
                "activation_threshold": activation_threshold,
                "deactivation_threshold": deactivation_threshold,
            }.items()
            if v is not None
        }
        if activation_threshold is not None and deactivation_threshold is None:
            changes["deactivation_threshold"] = default_deactivation(activation_threshold)
        self._opts = dataclasses.replace(self._opts, **changes)  # validates

    def stream(self) -> VADStream:
        return VADStream(self)


class VADStream(VADStreamBase):
    def __init__(self, vad: VAD) -> None:
        super().__init__(vad)
        self._silero = vad
        self._rate = vad.options.sample_rate
        self._window = window_size(self._rate)
        self._state = StreamState(self._rate)
        self._tracker = SpeechTracker(vad.options)
        self._resampler: AudioResampler | None = None
        self._pending: npt.NDArray[np.int16] = np.zeros(0, np.int16)
        self._samples_index = 0
        # audio before speech (prefix padding) and the speech itself, at the model rate
        self._prefix: collections.deque[npt.NDArray[np.int16]] = collections.deque()
        self._speech: list[npt.NDArray[np.int16]] = []
        self._speech_samples = 0
        self._overflow_warned = False

    async def _run(self, frames: Chan[AudioFrame]) -> None:
        loop = asyncio.get_running_loop()
        model = self._silero._model
        closed = False
        while not closed:
            try:
                self._append(await frames.recv())
            except ChanClosed:
                closed = True
            # every frame that arrived meanwhile goes into the same inference job
            while not closed and frames.ready():
                try:
                    self._append(frames.recv_nowait())
                except ChanClosed:
                    closed = True
            if closed and self._resampler is not None:
                # the filter holds a few ms back: the end of the input must be heard too
                for out in self._resampler.flush():
                    self._pending = np.concatenate([self._pending, out.data])
            count = len(self._pending) // self._window
            if count == 0:
                continue
            pcm = self._pending[: count * self._window].reshape(count, self._window)
            self._pending = self._pending[count * self._window :]
            windows = pcm.astype(np.float32) / np.float32(32768.0)
            started = time.perf_counter()
            probabilities = await loop.run_in_executor(executor(), model.run, self._state, windows)
            per_window = (time.perf_counter() - started) / count
            for window, probability in zip(pcm, probabilities, strict=True):
                self._on_window(window, probability, per_window)
        if self._tracker.speaking:
            # the input ended mid-speech: close the segment so no consumer waits for it
            self._tracker.speaking = False
            self._emit_end(silence=self._tracker.silence_run)

    def _append(self, frame: AudioFrame) -> None:
        mono = remix_channels(frame, 1)
        if self._resampler is None or self._resampler.input_rate != mono.sample_rate:
            self._resampler = AudioResampler(mono.sample_rate, self._rate, quality="MQ")
        for out in self._resampler.push(mono):
            self._pending = np.concatenate([self._pending, out.data])

    def _on_window(self, window: npt.NDArray[np.int16], probability: float, took: float) -> None:
        opts = self._silero.options
        tracker = self._tracker
        tracker.opts = opts
        seconds = self._window / self._rate
        self._samples_index += self._window
        was_speaking = tracker.speaking
        transition = tracker.update(probability, seconds)
        if was_speaking or transition is Transition.STARTED:
            self._buffer_speech(window, opts)
        else:
            self._prefix.append(window)
            keep = opts.prefix_padding_duration + tracker.speech_run
            while len(self._prefix) * seconds > keep + 1e-9:
                self._prefix.popleft()
        self._emit(
            VADEvent(
                VADEventType.INFERENCE_DONE,
                samples_index=self._samples_index,
                timestamp=now(),
                speech_duration=tracker.speech_duration,
                silence_duration=tracker.silence_run if tracker.speaking else 0.0,
                frames=[AudioFrame(window, self._rate, 1, len(window))],
                probability=probability,
                inference_duration=took,
                speaking=tracker.speaking,
            )
        )
        if transition is Transition.STARTED:
            self._emit(
                VADEvent(
                    VADEventType.START_OF_SPEECH,
                    samples_index=self._samples_index,
                    timestamp=now(),
                    speech_duration=tracker.speech_duration,
                    silence_duration=0.0,
                    frames=[self._speech_frame()],
                    probability=probability,
                    speaking=True,
                )
            )
        elif transition is Transition.ENDED:
            self._emit_end(silence=tracker.silence_run, probability=probability)

    def _buffer_speech(self, window: npt.NDArray[np.int16], opts: VADOptions) -> None:
        if not self._speech:
            # the prefix ends with the speech run that triggered the start
            self._speech = list(self._prefix)
            self._prefix.clear()
            self._speech_samples = sum(len(w) for w in self._speech)
        if self._speech_samples + len(window) > opts.max_buffered_speech * self._rate:
            if not self._overflow_warned:
                logger.warning(
                    "speech longer than max_buffered_speech (%.0f s): later audio is not "
                    "kept in the event frames",
                    opts.max_buffered_speech,
                )
                self._overflow_warned = True
            return
        self._speech.append(window)
        self._speech_samples += len(window)

    def _speech_frame(self) -> AudioFrame:
        pcm = np.concatenate(self._speech) if self._speech else np.zeros(0, np.int16)
        return AudioFrame(pcm, self._rate, 1, len(pcm))

    def _emit_end(self, *, silence: float, probability: float = 0.0) -> None:
        frame = self._speech_frame()
        self._speech = []
        self._speech_samples = 0
        self._overflow_warned = False
        self._emit(
            VADEvent(
                VADEventType.END_OF_SPEECH,
                samples_index=self._samples_index,
                timestamp=now(),
                speech_duration=self._tracker.ended_speech_duration(),
                silence_duration=silence,
                frames=[frame],
                probability=probability,
                speaking=False,
            )
        )
