"""At start and at every handoff, the session asks its STT, LLM and TTS to prewarm, so a local
model's weights load while the user is still speaking; a failing prewarm only logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from voxline import Agent, AgentSession
from voxline.stt import StreamAdapter as STTStreamAdapter
from voxline.testing import FakeActions, FakeLLM, FakeSTT, FakeTTS, FakeVAD


class CountingSTT(FakeSTT):
    prewarms = 0

    def prewarm(self) -> None:
        self.prewarms += 1


class CountingTTS(FakeTTS):
    prewarms = 0

    def prewarm(self) -> None:
        self.prewarms += 1


class FailingLLM(FakeLLM):
    def prewarm(self) -> None:
        raise RuntimeError("weights missing")


@pytest.mark.virtual_time
async def test_start_and_handoff_prewarm_every_model(caplog: pytest.LogCaptureFixture) -> None:
    actions = FakeActions()
    stt, tts = CountingSTT(actions), CountingTTS(actions)
    agent_stt = CountingSTT(actions)
    caplog.set_level(logging.WARNING)
    async with AgentSession(stt=stt, llm=FailingLLM(actions), tts=tts) as session:
        await session.start(Agent(instructions="a"))
        assert (stt.prewarms, tts.prewarms) == (1, 1)
        assert "prewarming FailingLLM failed: weights missing" in caplog.text
        session.update_agent(Agent(instructions="b", stt=agent_stt))
        for _ in range(10):  # the handoff runs in a task
            if agent_stt.prewarms:
                break
            await asyncio.sleep(0.01)
        # the new agent's own STT is prewarmed; the session's TTS again (a no-op when loaded)
        assert agent_stt.prewarms == 1 and stt.prewarms == 1 and tts.prewarms == 2


def test_the_stt_stream_adapter_prewarms_the_model_it_wraps() -> None:
    actions = FakeActions()
    stt = CountingSTT(actions)
    STTStreamAdapter(stt=stt, vad=FakeVAD(actions)).prewarm()
    assert stt.prewarms == 1
