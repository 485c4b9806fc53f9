"""voxline.testing: scripted fakes, a virtual clock, and helpers to run whole conversations
deterministically in milliseconds."""

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
    "FakeActions",
    "FakeAudioInput",
    "FakeAudioOutput",
    "FakeLLM",
    "FakeSTT",
    "FakeTTS",
    "FakeTextOutput",
    "FakeVAD",
    "LLMAction",
    "TTSAction",
    "UserSpeech",
    "VirtualTimeEventLoop",
    "create_session",
    "new_event_loop",
    "run",
    "run_session",
]
