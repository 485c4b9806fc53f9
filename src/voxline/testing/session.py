"""Build a session wired to the scripted fakes and run it on the virtual clock."""

from __future__ import annotations

import asyncio
from typing import Any

from ..voice.agent import Agent
from ..voice.session import AgentSession
from ..voice.turn_options import TurnHandlingOptions
from .fakes import (
    FakeActions,
    FakeAudioInput,
    FakeAudioOutput,
    FakeLLM,
    FakeSTT,
    FakeTextOutput,
    FakeTTS,
    FakeVAD,
)

DEFAULT_TURN_HANDLING: dict[str, Any] = {
    "endpointing": {"min_delay": 0.5, "max_delay": 6.0},
    "interruption": {"min_duration": 0.5, "false_interruption_timeout": 2.0},
}


def create_session(
    actions: FakeActions,
    *,
    turn_handling: TurnHandlingOptions | dict[str, Any] | None = None,
    extra_kwargs: dict[str, Any] | None = None,
    can_pause_audio: bool = False,
    with_stt: bool = True,
) -> AgentSession[Any]:
    """An AgentSession with FakeVAD/FakeSTT/FakeLLM/FakeTTS and fake I/O, VAD endpointing
    (min 0.5 s, max 6 s), no AEC warm-up. `turn_handling` keys override per key."""
    th: dict[str, Any] = {k: dict(v) for k, v in DEFAULT_TURN_HANDLING.items()}
    for key, value in dict(turn_handling or {}).items():
        if isinstance(value, dict) and isinstance(th.get(key), dict):
            th[key].update(value)
        else:
            th[key] = value
    kwargs: dict[str, Any] = {
        "vad": FakeVAD(actions),
        "stt": FakeSTT(actions) if with_stt else None,
        "llm": FakeLLM(actions),
        "tts": FakeTTS(actions),
        "turn_handling": th,
        "aec_warmup_duration": None,
    }
    kwargs.update(extra_kwargs or {})
    session: AgentSession[Any] = AgentSession(**kwargs)
    session.input.audio = FakeAudioInput()
    session.output.audio = FakeAudioOutput(can_pause=can_pause_audio)
    session.output.transcription = FakeTextOutput()
    return session


async def run_session(session: AgentSession[Any], agent: Agent, drain_delay: float = 5.0) -> float:
    """Start the session, feed audio for the whole script, wait `drain_delay` after the last
    scripted user event, close the session. Returns the time origin (the first frame)."""
    audio = session.input.audio
    if not isinstance(audio, FakeAudioInput):
        raise TypeError("run_session needs a session made by create_session")
    actions = _actions_of(session)
    end = actions.last_user_event_time + drain_delay
    audio.push(end)
    await session.start(agent)
    loop = asyncio.get_running_loop()
    origin = await audio.wait_first_frame()
    remaining = origin + end - loop.time()
    if remaining > 0:
        await asyncio.sleep(remaining)
    audio.close()
    await session.aclose()
    return origin


def _actions_of(session: AgentSession[Any]) -> FakeActions:
    for model in (session.vad, session.stt, session.llm, session.tts):
        actions = getattr(model, "_actions", None)
        if isinstance(actions, FakeActions):
            return actions
    raise TypeError("the session's models are not voxline.testing fakes")
