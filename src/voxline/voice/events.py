"""Event payloads of AgentSession, the agent and user states, and why a session closed."""

from __future__ import annotations

import enum
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .._utils.aio import now
from ..llm.chat_context import AgentHandoff, ChatMessage, FunctionCall, FunctionCallOutput
from ..llm.llm import LLMError
from ..stt.stt import STTError
from ..tts.tts import TTSError
from .speech import SpeechHandle

AgentState = Literal["initializing", "idle", "listening", "thinking", "speaking"]
UserState = Literal["speaking", "listening", "away"]


class CloseReason(str, enum.Enum):
    ERROR = "error"
    JOB_SHUTDOWN = "job_shutdown"
    PARTICIPANT_DISCONNECTED = "participant_disconnected"
    USER_INITIATED = "user_initiated"
    TASK_COMPLETED = "task_completed"


class _Event(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    created_at: float = Field(default_factory=now)


class UserStateChangedEvent(_Event):
    type: Literal["user_state_changed"] = "user_state_changed"
    old_state: UserState
    new_state: UserState


class AgentStateChangedEvent(_Event):
    type: Literal["agent_state_changed"] = "agent_state_changed"
    old_state: AgentState
    new_state: AgentState


class UserInputTranscribedEvent(_Event):
    type: Literal["user_input_transcribed"] = "user_input_transcribed"
    transcript: str
    is_final: bool
    item_id: str | None = None
    speaker_id: str | None = None
    language: str | None = None


class UserTranscriptionTimeoutEvent(_Event):
    type: Literal["user_transcription_timeout"] = "user_transcription_timeout"
    speech_duration: float
    vad_speech_started_at: float


class UserTurnExceededEvent(_Event):
    type: Literal["user_turn_exceeded"] = "user_turn_exceeded"
    transcript: str
    word_count: int
    duration: float
    reason: Literal["max_words", "max_duration"]


class ConversationItemAddedEvent(_Event):
    type: Literal["conversation_item_added"] = "conversation_item_added"
    item: Union[ChatMessage, AgentHandoff]


class AgentFalseInterruptionEvent(_Event):
    type: Literal["agent_false_interruption"] = "agent_false_interruption"
    resumed: bool


class FunctionToolsExecutedEvent(_Event):
    type: Literal["function_tools_executed"] = "function_tools_executed"
    function_calls: list[FunctionCall]
    function_call_outputs: list[FunctionCallOutput | None]
    has_tool_reply: bool = False
    has_agent_handoff: bool = False

    def zipped(self) -> list[tuple[FunctionCall, FunctionCallOutput | None]]:
        return list(zip(self.function_calls, self.function_call_outputs))


class SpeechCreatedEvent(_Event):
    type: Literal["speech_created"] = "speech_created"
    user_initiated: bool
    source: Literal["say", "generate_reply", "tool_response"]
    speech_handle: SpeechHandle = Field(exclude=True)


class EOUMetrics(BaseModel):
    type: Literal["eou_metrics"] = "eou_metrics"
    timestamp: float
    end_of_utterance_delay: float
    transcription_delay: float
    on_user_turn_completed_delay: float = 0.0
    speech_id: str | None = None


class LLMMetrics(BaseModel):
    type: Literal["llm_metrics"] = "llm_metrics"
    timestamp: float
    request_id: str
    ttft: float
    duration: float
    cancelled: bool
    completion_tokens: int = 0
    prompt_tokens: int = 0
    speech_id: str | None = None


class TTSMetrics(BaseModel):
    type: Literal["tts_metrics"] = "tts_metrics"
    timestamp: float
    request_id: str
    ttfb: float
    duration: float
    audio_duration: float
    characters_count: int
    cancelled: bool
    streamed: bool
    speech_id: str | None = None


class STTMetrics(BaseModel):
    type: Literal["stt_metrics"] = "stt_metrics"
    timestamp: float
    request_id: str
    duration: float
    audio_duration: float
    streamed: bool


AgentMetrics = Union[EOUMetrics, LLMMetrics, TTSMetrics, STTMetrics]


class MetricsCollectedEvent(_Event):
    type: Literal["metrics_collected"] = "metrics_collected"
    metrics: AgentMetrics


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    error: Union[LLMError, STTError, TTSError, Any]
    source: Any = Field(default=None, exclude=True)


class CloseEvent(_Event):
    type: Literal["close"] = "close"
    reason: CloseReason
    error: Union[LLMError, STTError, TTSError, None] = None


EventTypes = Literal[
    "user_state_changed",
    "agent_state_changed",
    "user_input_transcribed",
    "user_transcription_timeout",
    "user_turn_exceeded",
    "conversation_item_added",
    "agent_false_interruption",
    "function_tools_executed",
    "speech_created",
    "metrics_collected",
    "error",
    "close",
    "dtmf_sent",
    "ivr_loop_detected",
    "ivr_silence_detected",
]
