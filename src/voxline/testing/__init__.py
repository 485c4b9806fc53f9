"""voxline.testing: scripted fakes, a virtual clock, and helpers to run whole conversations
deterministically in milliseconds."""

from ..voice.run_result import (
    AgentHandoffEvent,
    ChatMessageEvent,
    FunctionCallEvent,
    FunctionCallOutputEvent,
    RunEvent,
    RunResult,
    format_judge_request,
    mock_tools,
)
from .clock import VirtualTimeEventLoop, new_event_loop, run
from .fakes import (
    FakeActions,
    FakeAudioInput,
    FakeAudioOutput,
    FakeLLM,
    FakeSTT,
    FakeTextOutput,
    FakeTTS,
    FakeVAD,
    LLMAction,
    TTSAction,
    UserSpeech,
)
from .session import create_session, run_session

__all__ = [
    "AgentHandoffEvent",
    "ChatMessageEvent",
    "FakeActions",
    "FakeAudioInput",
    "FakeAudioOutput",
    "FakeLLM",
    "FakeSTT",
    "FakeTTS",
    "FakeTextOutput",
    "FakeVAD",
    "FunctionCallEvent",
    "FunctionCallOutputEvent",
    "LLMAction",
    "RunEvent",
    "RunResult",
    "TTSAction",
    "UserSpeech",
    "VirtualTimeEventLoop",
    "create_session",
    "format_judge_request",
    "mock_tools",
    "new_event_loop",
    "run",
    "run_session",
]
