"""The push-to-talk example on a memory room with scripted models: the agent hears nothing
until `start_turn`, answers only after `end_turn`, and `cancel_turn` drops the turn."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from room_io.helpers import ROOM, User, make_session, settle
from voxline import Agent, rtc
from voxline.testing import FakeActions

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "push_to_talk.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("push_to_talk_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load()


async def call(user: User, method: str) -> str:
    return await user.room.local_participant.perform_rpc(
        destination_identity="agent", method=method, payload=""
    )


@pytest.mark.virtual_time
async def test_the_agent_answers_only_after_the_button_is_released() -> None:
    actions = FakeActions()
    # times count from the first frame the session hears, i.e. from start_turn
    actions.add_user_speech(0.5, 1.5, "what is the weather")
    actions.add_llm("It is sunny.")
    actions.add_tts(1.0)
    hub = rtc.MemoryHub()
    agent_room = hub.room()
    await agent_room.connect(f"memory://{ROOM}", hub.token(ROOM, "agent", kind="agent"))
    session = make_session(actions, turn_detection="manual")
    user_room = hub.room()
    await user_room.connect(f"memory://{ROOM}", hub.token(ROOM, "alice"))
    user = User(user_room, "alice")
    await user.publish_mic()
    await settle()
    room_io = await example.start_push_to_talk(session, agent_room, Agent(instructions="x"))
    assert room_io.linked_participant.identity == "alice"
    items: list[Any] = []
    session.on("conversation_item_added", lambda ev: items.append(ev.item))

    user.talk(10.0)
    await asyncio.sleep(2.0)  # the microphone is live but the agent is deaf
    assert session.stt.origin is None
    assert await call(user, "start_turn") == "listening"
    await asyncio.sleep(4.0)  # the user speaks; manual turns: no answer yet
    assert items == []
    assert await call(user, "end_turn") == "what is the weather"
    await asyncio.sleep(2.0)
    assert [(i.role, i.text_content) for i in items] == [
        ("user", "what is the weather"),
        ("assistant", "It is sunny."),
    ]
    assert user.heard_seconds == pytest.approx(1.0, abs=0.06)
    assert not session.input.audio_enabled

    assert await call(user, "start_turn") == "listening"
    assert await call(user, "cancel_turn") == "cancelled"
    assert not session.input.audio_enabled
    await session.aclose()
    await user.aclose()
    await agent_room.disconnect()
