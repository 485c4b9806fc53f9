"""The toggle_io example on a memory room: RPCs switch inputs, outputs and the linked
participant."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from room_io.helpers import ROOM, User, make_session, settle
from voxline import Agent, rtc
from voxline.testing import FakeActions

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "toggle_io.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("toggle_io_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load()


@pytest.mark.virtual_time
async def test_rpcs_toggle_io_and_switch_the_linked_participant() -> None:
    hub = rtc.MemoryHub()
    agent_room = hub.room()
    await agent_room.connect(f"memory://{ROOM}", hub.token(ROOM, "agent", kind="agent"))
    users: list[User] = []
    for identity in ("alice", "bob"):
        room = hub.room()
        await room.connect(f"memory://{ROOM}", hub.token(ROOM, identity))
        users.append(User(room, identity))
        await users[-1].publish_mic()
    await settle()
    session = make_session(FakeActions())
    room_io = await example.start_toggle_io(session, agent_room, Agent(instructions="x"))
    alice, bob = users

    async def call(user: User, method: str, payload: str = "") -> str:
        return await user.room.local_participant.perform_rpc(
            destination_identity="agent", method=method, payload=payload
        )

    assert room_io.linked_participant.identity == "alice"
    assert await call(bob, "set_participant") == "bob"  # empty payload: the caller
    await settle()
    assert room_io.linked_participant.identity == "bob"
    assert room_io.audio_input.track.sid == bob.mic_sid
    assert await call(bob, "set_participant", "alice") == "alice"
    await settle()
    assert room_io.linked_participant.identity == "alice"
    await call(alice, "unset_participant")
    await settle()
    assert room_io.linked_participant is None

    await call(alice, "toggle_input", "audio_off")
    assert not session.input.audio_enabled
    await call(alice, "toggle_input", "audio_on")
    assert session.input.audio_enabled
    await call(alice, "toggle_output", "audio_off")
    await call(alice, "toggle_output", "transcription_off")
    assert not session.output.audio_enabled and not session.output.transcription_enabled
    await call(alice, "toggle_output", "transcription_on")
    assert session.output.transcription_enabled
    with pytest.raises(rtc.RpcError, match="unknown output toggle"):
        await call(alice, "toggle_output", "video_on")
    await session.aclose()
    for user in users:
        await user.aclose()
    await agent_room.disconnect()
