"""Bad input and failing models: clear errors, nothing lost, no wedged session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from support.timeline import record
from voxline import Agent, AgentSession, APIConnectOptions, APIError, SessionConnectOptions
from voxline.audio import AudioFrame
from voxline.testing import (
    FakeActions,
    FakeLLM,
    FakeSTT,
    FakeTTS,
    create_session,
    run_session,
)
from voxline.testing.fakes import FakeVAD
from voxline.voice.io import AudioInput


class ListInput(AudioInput):
    def __init__(self, frames: list[Any]) -> None:
        self._frames = frames

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AudioFrame]:
        for frame in self._frames:
            yield frame
            await asyncio.sleep(frame.duration if isinstance(frame, AudioFrame) else 0.01)


class RecordingVAD(FakeVAD):
    def __init__(self) -> None:
        super().__init__(FakeActions())
        self.frames: list[AudioFrame] = []

    def stream(self) -> Any:
        stream = super().stream()
        original = stream.push_frame

        def push(frame: AudioFrame) -> None:
            self.frames.append(frame)
            original(frame)

        stream.push_frame = push  # type: ignore[method-assign]
        return stream


@pytest.mark.virtual_time
async def test_frames_with_another_rate_or_channels_are_resampled_to_the_first() -> None:
    vad = RecordingVAD()
    session: AgentSession[Any] = AgentSession(vad=vad, turn_detection="vad")
    first = AudioFrame.create(16000, 1, 320)
    stereo_48k = [AudioFrame.create(48000, 2, 960) for _ in range(10)]
    session.input.audio = ListInput([first, *stereo_48k])
    await session.start(Agent(instructions="Listen."))
    await asyncio.sleep(1.0)
    await session.aclose()
    assert {(f.sample_rate, f.num_channels) for f in vad.frames} == {(16000, 1)}
    total = sum(f.samples_per_channel for f in vad.frames)
    assert abs(total - (320 + 10 * 320)) <= 320  # the resampler may hold a few ms back


@pytest.mark.virtual_time
async def test_audio_input_of_the_wrong_type_is_reported() -> None:
    session: AgentSession[Any] = AgentSession(vad=RecordingVAD(), turn_detection="vad")
    session.input.audio = ListInput([b"\x00\x00" * 160])
    timeline = record(session)
    await session.start(Agent(instructions="Listen."))
    await asyncio.sleep(0.1)
    await session.aclose()
    errors = timeline.of("error")
    assert len(errors) == 1
    assert isinstance(errors[0].error, TypeError)
    assert "AudioFrame" in str(errors[0].error) and "bytes" in str(errors[0].error)


def _turns(actions: FakeActions, count: int) -> None:
    for i in range(count):
        start = 0.5 + 4.0 * i
        actions.add_user_speech(start, start + 1.0, f"question {i}")
        actions.add_llm(f"answer {i}")
        actions.add_tts(1.0)


@pytest.mark.virtual_time
async def test_a_failing_llm_is_reported_and_the_next_turn_works() -> None:
    actions = FakeActions()
    _turns(actions, 2)
    llm = FakeLLM(actions, fail_times=1, fake_exception=APIError("boom", retryable=False))
    session = create_session(actions, extra_kwargs={"llm": llm})
    timeline = record(session)
    await run_session(session, Agent(instructions="Answer."))
    errors = timeline.of("error")
    assert len(errors) == 1 and errors[0].error.type == "llm_error"
    assert not errors[0].error.recoverable
    answers = [
        i.text_content for i in timeline.items() if i.type == "message" and i.role == "assistant"
    ]
    assert answers == ["answer 1"]
    assert [e.reason.value for e in timeline.of("close")] == ["user_initiated"]


@pytest.mark.virtual_time
async def test_repeated_failures_close_the_session_with_error() -> None:
    actions = FakeActions()
    _turns(actions, 4)
    llm = FakeLLM(actions, fail_times=10, fake_exception=APIError("down", retryable=False))
    session = create_session(actions, extra_kwargs={"llm": llm})
    timeline = record(session)
    await run_session(session, Agent(instructions="Answer."))
    assert len(timeline.of("error")) == 3
    closes = timeline.of("close")
    assert [c.reason.value for c in closes] == ["error"]
    assert closes[0].error is not None and closes[0].error.type == "llm_error"


@pytest.mark.virtual_time
async def test_retryable_errors_are_retried_before_failing() -> None:
    actions = FakeActions()
    _turns(actions, 1)
    llm = FakeLLM(actions, fail_times=2, fake_exception=APIError("flaky", retryable=True))
    conn = SessionConnectOptions(
        llm_conn_options=APIConnectOptions(max_retry=3, retry_interval=0.5)
    )
    session = create_session(actions, extra_kwargs={"llm": llm, "conn_options": conn})
    timeline = record(session)
    await run_session(session, Agent(instructions="Answer."))
    assert timeline.of("error") == []
    answers = [
        i.text_content for i in timeline.items() if i.type == "message" and i.role == "assistant"
    ]
    assert answers == ["answer 0"]


@pytest.mark.virtual_time
async def test_a_hanging_llm_times_out_and_does_not_wedge_the_session() -> None:
    actions = FakeActions()
    _turns(actions, 2)
    llm = FakeLLM(actions, hang=True)
    conn = SessionConnectOptions(llm_conn_options=APIConnectOptions(max_retry=0, timeout=1.5))
    session = create_session(actions, extra_kwargs={"llm": llm, "conn_options": conn})
    timeline = record(session)

    async def recover() -> None:
        await asyncio.sleep(3.0)
        llm.hang = False

    task = asyncio.get_running_loop().create_task(recover())
    timeline.origin = await run_session(session, Agent(instructions="Answer."))
    await task
    errors = timeline.of("error")
    assert len(errors) == 1 and "1.5" in str(errors[0].error.error)
    assert abs(timeline.at(errors[0]) - (2.0 + 1.5)) < 0.05
    answers = [
        i.text_content for i in timeline.items() if i.type == "message" and i.role == "assistant"
    ]
    assert answers == ["answer 1"]


@pytest.mark.virtual_time
async def test_a_failing_stt_stream_is_reported_and_restarted() -> None:
    actions = FakeActions()
    _turns(actions, 2)
    stt = FakeSTT(actions, fail_times=1)
    session = create_session(actions, extra_kwargs={"stt": stt})
    timeline = record(session)
    await run_session(session, Agent(instructions="Answer."))
    errors = timeline.of("error")
    assert len(errors) == 1 and errors[0].error.type == "stt_error"
    assert stt.streams_created == 2
    users = [i.text_content for i in timeline.items() if i.type == "message" and i.role == "user"]
    assert users == ["question 0", "question 1"]


@pytest.mark.virtual_time
async def test_a_failing_tts_is_reported_and_the_text_is_not_lost() -> None:
    actions = FakeActions()
    _turns(actions, 2)
    tts = FakeTTS(actions, fail_times=1)
    session = create_session(actions, extra_kwargs={"tts": tts})
    timeline = record(session)
    await run_session(session, Agent(instructions="Answer."))
    errors = timeline.of("error")
    assert len(errors) == 1 and errors[0].error.type == "tts_error"
    answers = [
        i.text_content for i in timeline.items() if i.type == "message" and i.role == "assistant"
    ]
    assert answers == ["answer 1"]


def test_invalid_options_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="max_tool_steps"):
        AgentSession(max_tool_steps=0)
    with pytest.raises(ValueError, match="unknown turn_handling key"):
        AgentSession(turn_handling={"endpoint": {}})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(ValueError, match="max_delay"):
        AgentSession(turn_handling={"endpointing": {"min_delay": 2.0, "max_delay": 1.0}})
    with pytest.raises(ValueError, match="unknown turn_handling\\['interruption'\\]"):
        AgentSession(turn_handling={"interruption": {"min_duraton": 1.0}})  # type: ignore[typeddict-item]
    with pytest.raises(ValueError, match="unknown text transform"):
        AgentSession(tts_text_transforms=["filter_everything"])
    with pytest.raises(ValueError, match="user_away_timeout"):
        AgentSession(user_away_timeout=0)
    with pytest.raises(ValueError, match="unknown provider"):
        AgentSession(llm="nowhere/model")
