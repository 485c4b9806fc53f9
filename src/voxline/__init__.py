"""voxline: realtime voice AI agents — turn-taking, interruptions, tools, rooms."""

from . import llm, room_io, stt, tts, vad
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    SessionClosedError,
)
from ._types import NOT_GIVEN, APIConnectOptions, NotGiven, NotGivenOr, SessionConnectOptions
from .llm import (
    ChatContext,
    ChatMessage,
    FunctionTool,
    StopResponse,
    ToolError,
    ToolFlag,
    Toolset,
    function_tool,
)
from .voice import (
    Agent,
    AgentFalseInterruptionEvent,
    AgentSession,
    AgentState,
    AgentStateChangedEvent,
    AgentTask,
    CloseEvent,
    CloseReason,
    ConversationItemAddedEvent,
    EndpointingOptions,
    ErrorEvent,
    FlushSentinel,
    FunctionToolsExecutedEvent,
    InterruptionOptions,
    MetricsCollectedEvent,
    ModelSettings,
    PreemptiveGenerationOptions,
    RunContext,
    RunResult,
    SpeechCreatedEvent,
    SpeechHandle,
    TurnHandlingOptions,
    UserInputTranscribedEvent,
    UserState,
    UserStateChangedEvent,
    UserTranscriptionTimeoutEvent,
    UserTurnExceededEvent,
    UserTurnLimitOptions,
)

__version__ = "0.1.0"

# the agent server and the CLI load on first use: `import voxline` stays light
_LAZY = {
    "AgentServer": ("voxline.worker", "AgentServer"),
    "JobContext": ("voxline.worker", "JobContext"),
    "JobProcess": ("voxline.worker", "JobProcess"),
    "JobRequest": ("voxline.worker", "JobRequest"),
    "JobExecutorType": ("voxline.worker", "JobExecutorType"),
    "ServerType": ("voxline.worker", "ServerType"),
    "get_job_context": ("voxline.worker", "get_job_context"),
    "cli": ("voxline.cli", None),
}


def __getattr__(name: str) -> object:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'voxline' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(target[0])
    return module if target[1] is None else getattr(module, target[1])


__all__ = [
    "NOT_GIVEN",
    "APIConnectOptions",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Agent",
    "AgentFalseInterruptionEvent",
    "AgentServer",
    "AgentSession",
    "AgentState",
    "AgentStateChangedEvent",
    "AgentTask",
    "ChatContext",
    "ChatMessage",
    "CloseEvent",
    "CloseReason",
    "ConversationItemAddedEvent",
    "EndpointingOptions",
    "ErrorEvent",
    "FlushSentinel",
    "FunctionTool",
    "FunctionToolsExecutedEvent",
    "InterruptionOptions",
    "JobContext",
    "JobExecutorType",
    "JobProcess",
    "JobRequest",
    "MetricsCollectedEvent",
    "ModelSettings",
    "NotGiven",
    "NotGivenOr",
    "PreemptiveGenerationOptions",
    "RunContext",
    "RunResult",
    "ServerType",
    "SessionClosedError",
    "SessionConnectOptions",
    "SpeechCreatedEvent",
    "SpeechHandle",
    "StopResponse",
    "ToolError",
    "ToolFlag",
    "Toolset",
    "TurnHandlingOptions",
    "UserInputTranscribedEvent",
    "UserState",
    "UserStateChangedEvent",
    "UserTranscriptionTimeoutEvent",
    "UserTurnExceededEvent",
    "UserTurnLimitOptions",
    "cli",
    "function_tool",
    "get_job_context",
    "llm",
    "room_io",
    "stt",
    "tts",
    "vad",
]
