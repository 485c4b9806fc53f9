"""The turn engine: every turn-taking decision, as a pure state machine.

Inputs are timestamped facts (speech started, transcript arrived, agent started speaking,
time passed); outputs are actions for the async shell to perform (commit the user turn,
interrupt or pause the agent, change the user state). No I/O, no tasks, no clock of its own:
the shell feeds `Tick(t)` at `next_deadline()`. That makes endpointing, interruptions,
false-interruption resume, the away timer and turn limits testable in microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from ..tokenize import count_words
from .turn_options import (
    EndpointingOptions,
    InterruptionOptions,
    PreemptiveGenerationOptions,
    UserTurnLimitOptions,
)

DetectionMode = Literal["vad", "stt", "manual", "model", "realtime_llm"]
UserStateName = Literal["speaking", "listening", "away"]
AgentStateName = Literal["initializing", "idle", "listening", "thinking", "speaking"]


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SpeechStarted:
    t: float
    started_at: float
    """When the person actually began (detection time minus the speech already heard)."""


@dataclass(frozen=True)
class SpeechEnded:
    t: float
    ended_at: float
    """When the person actually stopped (detection time minus the silence needed to decide)."""


@dataclass(frozen=True)
class SpeechProgress:
    """The VAD's running count of speech in the current segment (silence excluded)."""

    t: float
    speech_duration: float


@dataclass(frozen=True)
class Transcript:
    t: float
    text: str
    final: bool
    preflight: bool = False
    """A not-yet-final transcript the STT expects to keep (e.g. recognized early in a pause):
    enough to start a preemptive reply, not to commit the turn."""


@dataclass(frozen=True)
class SpeechResumed:
    """The VAD heard speech again inside its segment, after a pause too short to end it: a
    preflight transcript of that pause no longer holds."""

    t: float


@dataclass(frozen=True)
class SttEndOfSpeech:
    t: float


@dataclass(frozen=True)
class TurnPrediction:
    t: float
    probability: float
    """Probability that the user finished their turn (from an end-of-turn model)."""


@dataclass(frozen=True)
class AgentChanged:
    t: float
    state: AgentStateName
    speech_active: bool
    """An agent speech is authorized and was not interrupted."""
    interruptible: bool
    hold_away: bool = False
    """A background tool can still speak: the user is not away while it runs."""


@dataclass(frozen=True)
class CommitRequested:
    t: float
    skip_reply: bool = False


@dataclass(frozen=True)
class ClearTurn:
    t: float


@dataclass(frozen=True)
class UserActivity:
    """Something other than speech shows the user is there (text, DTMF)."""

    t: float


@dataclass(frozen=True)
class Tick:
    t: float


TurnInput = Union[
    SpeechStarted,
    SpeechProgress,
    SpeechEnded,
    Transcript,
    SpeechResumed,
    SttEndOfSpeech,
    TurnPrediction,
    AgentChanged,
    CommitRequested,
    ClearTurn,
    UserActivity,
    Tick,
]


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class SetUserState:
    state: UserStateName
    at: float


@dataclass(frozen=True)
class CommitUserTurn:
    transcript: str
    started_speaking_at: float | None
    stopped_speaking_at: float | None
    end_of_turn_delay: float | None
    transcription_delay: float | None
    reply: bool
    """False when the user asked for no reply or the agent's speech cannot be interrupted."""


@dataclass(frozen=True)
class InterruptSpeech:
    reason: Literal["audio", "words", "user_turn"]


@dataclass(frozen=True)
class PauseSpeech:
    pass


@dataclass(frozen=True)
class ResumeSpeech:
    false_interruption: bool


@dataclass(frozen=True)
class StartPreemptiveReply:
    transcript: str


@dataclass(frozen=True)
class CancelPreemptiveReply:
    pass


@dataclass(frozen=True)
class RequestTurnPrediction:
    transcript: str


@dataclass(frozen=True)
class TranscriptionTimedOut:
    speech_duration: float
    vad_speech_started_at: float
    at: float


@dataclass(frozen=True)
class UserTurnExceeded:
    reason: Literal["max_words", "max_duration"]
    transcript: str
    word_count: int
    duration: float


TurnAction = Union[
    SetUserState,
    CommitUserTurn,
    InterruptSpeech,
    PauseSpeech,
    ResumeSpeech,
    StartPreemptiveReply,
    CancelPreemptiveReply,
    RequestTurnPrediction,
    TranscriptionTimedOut,
    UserTurnExceeded,
]


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TurnConfig:
    detection: DetectionMode = "vad"
    has_vad: bool = True
    has_stt: bool = True
    can_pause: bool = False
    endpointing: EndpointingOptions = field(default_factory=EndpointingOptions)
    interruption: InterruptionOptions = field(default_factory=InterruptionOptions)
    preemptive: PreemptiveGenerationOptions = field(default_factory=PreemptiveGenerationOptions)
    user_turn_limit: UserTurnLimitOptions = field(default_factory=UserTurnLimitOptions)
    user_away_timeout: float | None = 15.0
    transcription_timeout: float | None = None
    aec_warmup_duration: float | None = None
    unlikely_threshold: float = 0.5


# ---------------------------------------------------------------- the engine


class TurnEngine:
    """Feed inputs with `feed()`, perform the returned actions, tick at `next_deadline()`."""

    def __init__(self, config: TurnConfig, *, t: float = 0.0) -> None:
        self.config = config
        self.user_state: UserStateName = "listening"
        # the user's turn in progress
        self._speaking_since: float | None = None
        self._last_speech_end: float | None = None
        self._turn_started_at: float | None = None
        self._final = ""
        self._interim = ""
        self._last_final_at: float | None = None
        self._eou_at: float | None = None
        self._eou_delay_used: float | None = None
        self._awaiting_prediction = False
        self._stt_end_of_speech = False
        self._learned_pause: float | None = None
        # the agent
        self._agent_state: AgentStateName = "initializing"
        self._hold_away = False
        self._speech_active = False
        self._interruptible = True
        self._paused: Literal["pre", "false"] | None = None
        self._resume_at: float | None = None
        self._interrupt_check_at: float | None = None
        self._aec_until: float | None = None
        # with progress reports, interruptions count speech only, not the silence the VAD
        # needs before it declares the end of speech
        self._progress_reported = False
        self._speech_duration = 0.0
        # timers and limits
        self._away_at: float | None = None
        self._untranscribed_since: float | None = None
        self._untranscribed_duration = 0.0
        self._transcription_timeout_at: float | None = None
        self._limit_duration_at: float | None = None
        self._limit_reported = False
        self._limit_words = 0
        self._limit_duration = 0.0
        self._preemptive_transcript: str | None = None
        self._preemptive_preflight = False  # started on a preflight no final confirmed yet
        self._preemptive_count = 0
        self._now = t

    # ------------------------------------------------------------ public API

    @property
    def transcript(self) -> str:
        """The user turn's final transcript so far (not yet committed)."""
        return self._final

    @property
    def paused(self) -> bool:
        return self._paused is not None

    @property
    def agent_paused_by_user(self) -> bool:
        """True once a pause counts as an interruption (the agent shows as listening)."""
        return self._paused == "false"

    def reconfigure(self, config: TurnConfig) -> None:
        self.config = config

    def next_deadline(self) -> float | None:
        deadlines = [
            d
            for d in (
                self._eou_at if self._speaking_since is None else None,
                self._resume_at,
                self._interrupt_check_at,
                self._away_at,
                self._transcription_timeout_at,
                self._limit_duration_at,
            )
            if d is not None
        ]
        return min(deadlines) if deadlines else None

    def feed(self, event: TurnInput) -> list[TurnAction]:
        self._now = max(self._now, event.t)
        out: list[TurnAction] = []
        if isinstance(event, SpeechStarted):
            self._on_speech_started(event, out)
        elif isinstance(event, SpeechProgress):
            self._on_speech_progress(event, out)
        elif isinstance(event, SpeechEnded):
            self._on_speech_ended(event, out)
        elif isinstance(event, Transcript):
            self._on_transcript(event, out)
        elif isinstance(event, SpeechResumed):
            self._on_speech_resumed(out)
        elif isinstance(event, SttEndOfSpeech):
            self._on_stt_end_of_speech(event, out)
        elif isinstance(event, TurnPrediction):
            self._on_prediction(event, out)
        elif isinstance(event, AgentChanged):
            self._on_agent_changed(event, out)
        elif isinstance(event, CommitRequested):
            self._commit(event.t, out, manual=True, skip_reply=event.skip_reply)
        elif isinstance(event, ClearTurn):
            self._reset_turn()
            if self._paused is not None and not self._speaking_since:
                self._resume_at = event.t
        elif isinstance(event, UserActivity):
            self._set_user_state(
                "listening" if self._speaking_since is None else "speaking", event.t, out
            )
            self._rearm_away(event.t)
        self._on_tick(self._now, out)
        return out

    # ------------------------------------------------------------ user speech

    def _on_speech_started(self, ev: SpeechStarted, out: list[TurnAction]) -> None:
        if self._speaking_since is not None:
            return
        if self.config.endpointing.mode == "dynamic" and self._turn_open():
            assert self._last_speech_end is not None
            self._learn_pause(ev.started_at - self._last_speech_end)
        self._speaking_since = ev.started_at
        self._speech_duration = max(0.0, ev.t - ev.started_at)
        if self._turn_started_at is None:
            self._turn_started_at = ev.started_at
        self._eou_at = None  # a new speech start always restarts the decision
        self._stt_end_of_speech = False
        self._awaiting_prediction = False
        self._resume_at = None
        self._away_at = None
        self._transcription_timeout_at = None
        if self._untranscribed_since is None:
            self._untranscribed_since = ev.started_at
        self._set_user_state("speaking", ev.started_at, out)
        self._arm_limit_duration()
        self._consider_interruption_on_speech(ev.t, out)

    def _consider_interruption_on_speech(self, t: float, out: list[TurnAction]) -> None:
        opts = self.config.interruption
        if not (self._speech_active and self._interruptible and opts.enabled):
            return
        if self._speaking_since is None:
            return
        if self._pausing_allowed() and self._agent_state != "speaking" and self._paused is None:
            # a reply still being prepared must not start playing over the user
            self._paused = "pre"
            out.append(PauseSpeech())
        if self._progress_reported:
            self._check_speech_duration(t, out)
        else:
            self._interrupt_check_at = max(t, self._speaking_since + opts.min_duration)

    def _on_speech_progress(self, ev: SpeechProgress, out: list[TurnAction]) -> None:
        self._progress_reported = True
        self._interrupt_check_at = None
        if self._speaking_since is None:
            return
        self._speech_duration = ev.speech_duration
        self._check_speech_duration(ev.t, out)

    def _check_speech_duration(self, t: float, out: list[TurnAction]) -> None:
        if self._speech_duration + 1e-6 >= self.config.interruption.min_duration:
            self._interrupt_check_at = t
            self._check_audio_interruption(t, out)

    def _on_speech_ended(self, ev: SpeechEnded, out: list[TurnAction]) -> None:
        if self._speaking_since is not None:
            spoken = max(0.0, ev.ended_at - self._speaking_since)
            self._untranscribed_duration += spoken
            self._limit_duration += spoken  # the duration limit counts speech, not pauses
        self._limit_duration_at = None
        self._speaking_since = None
        self._last_speech_end = ev.ended_at
        self._interrupt_check_at = None
        self._set_user_state("listening", ev.t, out)
        self._rearm_away(ev.t)
        if self._paused == "pre":
            self._resume_at = ev.t
        elif self._paused == "false":
            timeout = self.config.interruption.false_interruption_timeout
            self._resume_at = ev.t + (timeout or 0.0)
        if self.config.transcription_timeout is not None and self.config.has_stt:
            if self._untranscribed_since is not None and not self._final.strip():
                self._transcription_timeout_at = ev.ended_at + self.config.transcription_timeout
        self._schedule_end_of_turn(ev.t, out)

    def _on_transcript(self, ev: Transcript, out: list[TurnAction]) -> None:
        text = ev.text.strip()
        if ev.final:
            self._interim = ""
            if not text:
                if (
                    self._paused is not None
                    and self._speaking_since is None
                    and self._resume_at is None
                    and not self._final.strip()
                ):
                    self._resume_at = ev.t  # the pending words came to nothing: resume
                return
            self._final = f"{self._final} {text}".strip()
            self._last_final_at = ev.t
            self._untranscribed_since = None
            self._untranscribed_duration = 0.0
            self._transcription_timeout_at = None
            self._rearm_away(ev.t)
            if self._turn_started_at is None:
                self._turn_started_at = ev.t
            self._limit_words = count_words(self._final)
        else:
            self._interim = text
        words = count_words(f"{self._final} {self._interim}")
        self._check_word_interruption(words, out)
        self._check_word_limit(words, out)
        if ev.final:
            self._maybe_preempt(self._final.strip(), out)
            if self._speaking_since is None:
                self._schedule_end_of_turn(ev.t, out)
        elif ev.preflight and text:
            self._maybe_preempt(f"{self._final} {text}".strip(), out, preflight=True)

    def _on_speech_resumed(self, out: list[TurnAction]) -> None:
        if self._preemptive_preflight and self._preemptive_transcript is not None:
            # the user went on: the reply to their pause is stale, and on a small machine
            # it would take CPU from the recognition of what they are saying now
            out.append(CancelPreemptiveReply())
            self._preemptive_transcript = None
            self._preemptive_preflight = False
            # a pause mid-sentence is not a failed attempt: the retry budget is for the
            # turn's finals, or three pauses would leave the real end without an early reply
            self._preemptive_count -= 1

    def _on_stt_end_of_speech(self, ev: SttEndOfSpeech, out: list[TurnAction]) -> None:
        if self.config.detection != "stt":
            return
        self._stt_end_of_speech = True
        if self._speaking_since is not None:
            return  # the VAD still hears speech: its end will schedule the commit
        if self._last_speech_end is None or not self.config.has_vad:
            self._last_speech_end = ev.t
        if self._final.strip():
            self._eou_at = max(ev.t, self._last_speech_end + self._min_delay())
            self._eou_delay_used = self._min_delay()

    def _on_prediction(self, ev: TurnPrediction, out: list[TurnAction]) -> None:
        if not self._awaiting_prediction or self._speaking_since is not None:
            return
        self._awaiting_prediction = False
        likely = ev.probability >= self.config.unlikely_threshold
        delay = self._min_delay() if likely else self.config.endpointing.max_delay
        base = self._last_speech_end if self._last_speech_end is not None else ev.t
        self._eou_at = max(ev.t, base + delay)
        self._eou_delay_used = delay

    # ------------------------------------------------------------ end of turn

    def _turn_open(self) -> bool:
        return self._turn_started_at is not None and self._last_speech_end is not None

    def _min_delay(self) -> float:
        ep = self.config.endpointing
        if ep.mode == "dynamic" and self._learned_pause is not None:
            return min(max(self._learned_pause, ep.min_delay), ep.max_delay)
        return ep.min_delay

    def _learn_pause(self, pause: float) -> None:
        if pause <= 0:
            return
        alpha = self.config.endpointing.alpha
        prev = (
            self._learned_pause
            if self._learned_pause is not None
            else self.config.endpointing.min_delay
        )
        self._learned_pause = alpha * prev + (1 - alpha) * pause

    def _schedule_end_of_turn(self, t: float, out: list[TurnAction]) -> None:
        mode = self.config.detection
        if mode in ("manual", "realtime_llm"):
            return
        if mode == "stt" and not self._stt_end_of_speech:
            return  # the STT has not declared the end of speech yet
        if self._last_speech_end is None and self.config.has_vad:
            return
        if self.config.has_stt and not self._final.strip():
            return  # wait for the final transcript; its arrival re-enters here
        base = self._last_speech_end if self._last_speech_end is not None else t
        if mode == "model":
            self._awaiting_prediction = True
            self._eou_at = max(t, base + self.config.endpointing.max_delay)
            self._eou_delay_used = self.config.endpointing.max_delay
            out.append(RequestTurnPrediction(self._final))
            return
        self._eou_at = max(t, base + self._min_delay())
        self._eou_delay_used = self._min_delay()

    def _commit(
        self, t: float, out: list[TurnAction], *, manual: bool = False, skip_reply: bool = False
    ) -> None:
        transcript = self._final.strip()
        self._eou_at = None
        self._awaiting_prediction = False
        if not transcript:
            if manual:
                self._reset_turn()
            return
        min_words = self.config.interruption.min_words
        if (
            not manual
            and self._speech_active
            and self._interruptible
            and self.config.interruption.enabled
            and min_words > 0
            and count_words(transcript) < min_words
        ):
            return  # too short to interrupt: keep listening and let the words accumulate
        reply = not skip_reply
        if self._speech_active:
            if self._interruptible and self.config.interruption.enabled:
                out.append(InterruptSpeech("user_turn"))
            elif not manual:
                reply = False
        self._paused = None
        self._resume_at = None
        stopped = self._last_speech_end
        out.append(
            CommitUserTurn(
                transcript=transcript,
                started_speaking_at=self._turn_started_at,
                stopped_speaking_at=stopped,
                end_of_turn_delay=(t - stopped) if stopped is not None else None,
                transcription_delay=(
                    max(0.0, self._last_final_at - stopped)
                    if stopped is not None and self._last_final_at is not None
                    else None
                ),
                reply=reply,
            )
        )
        self._reset_turn()

    def _reset_turn(self) -> None:
        self._stt_end_of_speech = False
        self._final = ""
        self._interim = ""
        self._eou_at = None
        self._awaiting_prediction = False
        self._turn_started_at = self._speaking_since
        self._last_final_at = None
        self._preemptive_transcript = None
        self._preemptive_preflight = False
        self._preemptive_count = 0
        self._untranscribed_since = self._speaking_since
        self._untranscribed_duration = 0.0
        self._transcription_timeout_at = None
        if self._speaking_since is None:
            self._last_speech_end = None

    def _maybe_preempt(
        self, transcript: str, out: list[TurnAction], *, preflight: bool = False
    ) -> None:
        opts = self.config.preemptive
        if transcript == self._preemptive_transcript:
            self._preemptive_preflight = self._preemptive_preflight and preflight
            return
        if not opts.enabled or not transcript:
            return
        if self._turn_started_at is not None and (
            self._now - self._turn_started_at > opts.max_speech_duration
        ):
            return
        if self._preemptive_count >= opts.max_retries:
            return
        if self._preemptive_transcript is not None:
            out.append(CancelPreemptiveReply())
        self._preemptive_transcript = transcript
        self._preemptive_preflight = preflight
        self._preemptive_count += 1
        out.append(StartPreemptiveReply(transcript))

    # ------------------------------------------------------------ interruptions

    def _pausing_allowed(self) -> bool:
        opts = self.config.interruption
        return (
            self.config.can_pause
            and opts.resume_false_interruption
            and opts.false_interruption_timeout is not None
        )

    def _interrupt_now(self, reason: Literal["audio", "words"], out: list[TurnAction]) -> None:
        self._interrupt_check_at = None
        if self._pausing_allowed():
            if self._paused is None:
                out.append(PauseSpeech())
            self._paused = "false"
            self._resume_at = None
        else:
            self._paused = None
            self._speech_active = False
            out.append(InterruptSpeech(reason))

    def _check_audio_interruption(self, t: float, out: list[TurnAction]) -> None:
        if self._interrupt_check_at is None or t < self._interrupt_check_at:
            return
        self._interrupt_check_at = None
        if self._speaking_since is None or not self._speech_active or not self._interruptible:
            return
        if self._paused == "false":
            return
        if self._aec_until is not None and t < self._aec_until:
            if not self._progress_reported:
                self._interrupt_check_at = self._aec_until
            return
        min_words = self.config.interruption.min_words
        if min_words > 0 and count_words(f"{self._final} {self._interim}") < min_words:
            return  # the words check on transcripts decides
        self._interrupt_now("audio", out)

    def _check_word_interruption(self, words: int, out: list[TurnAction]) -> None:
        opts = self.config.interruption
        if not (self._speech_active and self._interruptible and opts.enabled):
            return
        if self._paused == "false":
            return
        needed = opts.min_words if opts.min_words > 0 else (0 if self.config.has_vad else 1)
        if needed == 0 or words < needed:
            return
        self._interrupt_now("words", out)

    # ------------------------------------------------------------ agent side

    def _on_agent_changed(self, ev: AgentChanged, out: list[TurnAction]) -> None:
        became_speaking = ev.state == "speaking" and self._agent_state != "speaking"
        became_active = ev.speech_active and not self._speech_active
        self._agent_state = ev.state
        self._hold_away = ev.hold_away
        self._speech_active = ev.speech_active
        self._interruptible = ev.interruptible
        if became_speaking:
            self._limit_words = 0
            self._limit_duration = 0.0
            self._limit_reported = False
            self._limit_duration_at = None
            if self.config.aec_warmup_duration:
                self._aec_until = ev.t + self.config.aec_warmup_duration
        if not ev.speech_active:
            self._paused = None
            self._resume_at = None
            self._interrupt_check_at = None
        elif became_active and self._speaking_since is not None:
            self._consider_interruption_on_speech(ev.t, out)
        self._rearm_away(ev.t)

    def _rearm_away(self, t: float) -> None:
        timeout = self.config.user_away_timeout
        idle = (
            self._agent_state in ("listening", "idle")
            and self._speaking_since is None
            and not self._hold_away
        )
        if timeout is None or not idle:
            self._away_at = None
        elif self.user_state != "away":
            self._away_at = t + timeout

    def _set_user_state(self, state: UserStateName, at: float, out: list[TurnAction]) -> None:
        if self.user_state != state:
            self.user_state = state
            out.append(SetUserState(state, at))

    # ------------------------------------------------------------ limits

    def _arm_limit_duration(self) -> None:
        limit = self.config.user_turn_limit.max_duration
        if limit is not None and not self._limit_reported and self._speaking_since is not None:
            self._limit_duration_at = self._speaking_since + max(0.0, limit - self._limit_duration)

    def _check_word_limit(self, words: int, out: list[TurnAction]) -> None:
        limit = self.config.user_turn_limit.max_words
        if limit is None or self._limit_reported or words < limit:
            return
        self._limit_reported = True
        out.append(UserTurnExceeded("max_words", self._final, words, self._turn_duration()))

    def _turn_duration(self) -> float:
        if self._turn_started_at is None:
            return 0.0
        end = (
            self._now if self._speaking_since is not None else (self._last_speech_end or self._now)
        )
        return max(0.0, end - self._turn_started_at)

    # ------------------------------------------------------------ time

    def _on_tick(self, t: float, out: list[TurnAction]) -> None:
        self._check_audio_interruption(t, out)
        if self._eou_at is not None and t >= self._eou_at and self._speaking_since is None:
            self._commit(t, out)
        if self._resume_at is not None and t >= self._resume_at:
            self._resume_at = None
            if self._final.strip() or self._interim.strip():
                pass  # the turn is undecided: its commit will interrupt for real
            elif self._paused is not None:
                was_interruption = self._paused == "false"
                self._paused = None
                out.append(ResumeSpeech(false_interruption=was_interruption))
        if self._away_at is not None and t >= self._away_at:
            self._away_at = None
            self._set_user_state("away", t, out)
        if self._transcription_timeout_at is not None and t >= self._transcription_timeout_at:
            self._transcription_timeout_at = None
            if self._untranscribed_since is not None:
                out.append(
                    TranscriptionTimedOut(
                        speech_duration=self._untranscribed_duration,
                        vad_speech_started_at=self._untranscribed_since,
                        at=t,
                    )
                )
                self._untranscribed_since = None
                self._untranscribed_duration = 0.0
        if self._limit_duration_at is not None and t >= self._limit_duration_at:
            self._limit_duration_at = None
            if not self._limit_reported:
                self._limit_reported = True
                out.append(
                    UserTurnExceeded(
                        "max_duration",
                        self._final,
                        count_words(self._final),
                        self._turn_duration(),
                    )
                )
