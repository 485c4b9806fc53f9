"""The voice pipeline: AgentSession, Agent, the turn engine and the speech queue."""

from .agent import Agent, AgentTask, FlushSentinel, ModelSettings
from .events import (
    AgentFalseInterruptionEvent,
    AgentState,
    AgentStateChangedEvent,
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    ErrorEvent,
    FunctionToolsExecutedEvent,
    MetricsCollectedEvent,
    SpeechCreatedEvent,
    UserInputTranscribedEvent,
    UserState,
    UserStateChangedEvent,
    UserTranscriptionTimeoutEvent,
    UserTurnExceededEvent,
)
from .io import (
    AgentInput,
    AgentOutput,
    AudioInput,
    AudioOutput,
    PlaybackFinishedEvent,
    PlaybackStartedEvent,
    TextOutput,
    VideoInput,
)
from .run_context import RunContext
from .session import AgentSession
from .speech import SpeechHandle
from .turn_detector import TurnDetector
from .turn_options import (
    EndpointingOptions,
    InterruptionOptions,
    PreemptiveGenerationOptions,
    TurnHandlingOptions,
    UserTurnLimitOptions,
)

__all__ = [
    "Agent",
    "AgentFalseInterruptionEvent",
    "AgentInput",
    "AgentOutput",
    "AgentSession",
    "AgentState",
    "AgentStateChangedEvent",
    "AgentTask",
    "AudioInput",
    "AudioOutput",
    "CloseEvent",
    "CloseReason",
    "ConversationItemAddedEvent",
    "EndpointingOptions",
    "ErrorEvent",
    "FlushSentinel",
    "FunctionToolsExecutedEvent",
    "InterruptionOptions",
    "MetricsCollectedEvent",
    "ModelSettings",
    "PlaybackFinishedEvent",
    "PlaybackStartedEvent",
    "PreemptiveGenerationOptions",
    "RunContext",
    "SpeechCreatedEvent",
    "SpeechHandle",
    "TextOutput",
    "TurnDetector",
    "TurnHandlingOptions",
    "UserInputTranscribedEvent",
    "UserState",
    "UserStateChangedEvent",
    "UserTranscriptionTimeoutEvent",
    "UserTurnExceededEvent",
    "UserTurnLimitOptions",
    "VideoInput",
]
