"""Audio in, turn-engine facts out: fans frames to the VAD and the agent's stt_node and turns
their events into `SpeechStarted`, `SpeechEnded`, `Transcript` and `SttEndOfSpeech`."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from .._utils.aio import Chan, cancel_and_wait, now
from ..audio import AudioFrame
from ..stt.stt import SpeechEvent, SpeechEventType
from ..vad import VAD, VADEventType
from . import turns
from .agent import Agent, ModelSettings

if TYPE_CHECKING:
    from .session import AgentSession

logger = logging.getLogger("voxline.recognition")

STT_RESTART_DELAY = 0.5
TURN_AUDIO_SECONDS = 8.0
# seconds of silence inside a speech segment before an audio-only turn model is asked
EARLY_PREDICTION_SILENCE = 0.15
# ... and if that early verdict was "not finished", once more this far into the same pause
SECOND_LOOK_SILENCE = 0.35


class Recognition:
    def __init__(
        self,
        session: AgentSession[Any],
        agent: Agent,
        *,
        vad: VAD | None,
        has_stt: bool,
        feed: Callable[[turns.TurnInput], None],
        keep_turn_audio: bool = False,
    ) -> None:
        self._session = session
        self._agent = agent
        self._vad = vad
        self._has_stt = has_stt
        self._feed = feed
        self._vad_stream = vad.stream() if vad is not None else None
        self._stt_audio: Chan[AudioFrame] = Chan()
        self._tasks: list[asyncio.Task[None]] = []
        self._recent_audio: collections.deque[AudioFrame] = collections.deque()
        self._recent_duration = 0.0
        # only an audio end-of-turn model reads recent audio; nobody else pays for the buffer
        self._keep_turn_audio = keep_turn_audio
        self._user_speaking = False
        self._pause = 0.0  # seconds of silence so far inside the current speech segment
        self._closed = False
        self.final_received = asyncio.Event()

    def set_keep_turn_audio(self, keep: bool) -> None:
        self._keep_turn_audio = keep
        if not keep:
            self._recent_audio.clear()
            self._recent_duration = 0.0

    def can_serve(self, agent: Agent, *, vad: VAD | None, has_stt: bool) -> bool:
        same_node = type(agent).stt_node is type(self._agent).stt_node
        same_stt = self._session._resolve_stt(agent) is self._session._resolve_stt(self._agent)
        return vad is self._vad and has_stt == self._has_stt and same_node and same_stt

    def rebind(self, agent: Agent) -> None:
        self._agent = agent

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._vad_stream is not None:
            self._tasks.append(loop.create_task(self._vad_loop(), name="vad"))
        if self._has_stt:
            self._tasks.append(loop.create_task(self._stt_loop(), name="stt"))

    @property
    def pause(self) -> float:
        """Seconds of silence so far inside the user's current speech segment (0 outside)."""
        return self._pause if self._user_speaking else 0.0

    @property
    def recent_audio(self) -> list[AudioFrame]:
        return list(self._recent_audio)

    def push_audio(self, frame: AudioFrame, *, discard_for_stt: bool = False) -> None:
        if self._closed:
            return
        if self._vad_stream is not None:
            self._vad_stream.push_frame(frame)
        if self._has_stt:
            # while protected speech plays, the STT hears silence so nothing piles up
            self._stt_audio.send_nowait(
                AudioFrame.create(frame.sample_rate, frame.num_channels, frame.samples_per_channel)
                if discard_for_stt
                else frame
            )
        if not self._keep_turn_audio:
            return
        self._recent_audio.append(frame)
        self._recent_duration += frame.duration
        while self._recent_duration > TURN_AUDIO_SECONDS and len(self._recent_audio) > 1:
            self._recent_duration -= self._recent_audio.popleft().duration

    async def aclose(self) -> None:
        self._closed = True
        self._stt_audio.close()
        if self._vad_stream is not None:
            await self._vad_stream.aclose()
        await cancel_and_wait(*self._tasks)

    async def _vad_loop(self) -> None:
        assert self._vad_stream is not None
        async for ev in self._vad_stream:
            t = now()
            if ev.type == VADEventType.START_OF_SPEECH:
                self._user_speaking = True
                self._pause = 0.0
                self._feed(turns.SpeechStarted(t, started_at=t - ev.speech_duration))
            elif ev.type == VADEventType.INFERENCE_DONE:
                if self._user_speaking:
                    self._feed(turns.SpeechProgress(t, ev.speech_duration))
                    if ev.speaking:  # not the window that ends the segment (silence 0 there)
                        self._track_pause(ev.silence_duration)
            elif ev.type == VADEventType.END_OF_SPEECH:
                self._user_speaking = False
                self._pause = 0.0
                self._feed(turns.SpeechEnded(t, ended_at=t - ev.silence_duration))

    def _track_pause(self, silence: float) -> None:
        """A pause inside the VAD's speech segment: after EARLY_PREDICTION_SILENCE of it an
        audio-only end-of-turn model may start scoring the turn (the VAD itself declares the
        end only after its `min_silence_duration`); speech resuming drops that verdict."""
        if silence < self._pause:
            self._session._cancel_early_prediction()
            self._feed(turns.SpeechResumed(now()))
        elif self._pause < EARLY_PREDICTION_SILENCE <= silence:
            self._session._start_early_prediction()
        elif self._pause < SECOND_LOOK_SILENCE <= silence:
            self._session._retry_early_prediction()
        self._pause = silence

    async def _audio_for_stt(self) -> AsyncIterator[AudioFrame]:
        async for frame in self._stt_audio:
            yield frame

    async def _stt_loop(self) -> None:
        while not self._closed:
            try:
                node = self._agent.stt_node(self._audio_for_stt(), ModelSettings())
                if node is None:
                    return
                async for ev in node:
                    self._on_stt_event(ev)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._session._report_error(e, source="stt")
                await asyncio.sleep(STT_RESTART_DELAY)

    def _on_stt_event(self, ev: SpeechEvent | str) -> None:
        t = now()
        if isinstance(ev, str):
            ev = SpeechEvent(SpeechEventType.FINAL_TRANSCRIPT, [_speech_data(ev)])
        if ev.type == SpeechEventType.START_OF_SPEECH and self._vad is None:
            self._feed(turns.SpeechStarted(t, started_at=t))
        elif ev.type == SpeechEventType.END_OF_SPEECH:
            if self._vad is None:
                self._feed(turns.SpeechEnded(t, ended_at=t))
            self._feed(turns.SttEndOfSpeech(t))
        elif ev.type in (SpeechEventType.INTERIM_TRANSCRIPT, SpeechEventType.PREFLIGHT_TRANSCRIPT):
            self._session._on_transcript(ev.text, is_final=False, event=ev)
            # a preflight comes from a pause; if this VAD already hears the user again (the
            # STT's own VAD may lag it by a window), the words are only an interim now
            preflight = ev.type == SpeechEventType.PREFLIGHT_TRANSCRIPT and not (
                self._user_speaking and self._pause == 0.0
            )
            self._feed(turns.Transcript(t, ev.text, final=False, preflight=preflight))
        elif ev.type == SpeechEventType.FINAL_TRANSCRIPT:
            self._session._on_transcript(ev.text, is_final=True, event=ev)
            self._feed(turns.Transcript(t, ev.text, final=True))
            self.final_received.set()


def _speech_data(text: str) -> Any:
    from ..stt.stt import SpeechData

    return SpeechData(language="", text=text)
