"""A voice conversation with an interruption, replayed on voxline's virtual clock.

Prints the timeline of states and chat items, as an agent developer would watch it.
"""

from __future__ import annotations

from typing import Any

from voxline import Agent
from voxline.testing import FakeActions, create_session, run, run_session


def _describe(item: Any) -> str:
    if item.type == "message":
        cut = " (interrupted: what the user heard)" if item.interrupted else ""
        return f"{item.role}: {item.text_content!r}{cut}"
    return f"{item.type}: {item.old_agent_id} -> {item.new_agent_id}"


class Storyteller(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You tell short stories.")


async def main() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "Tell me a story.")
    actions.add_llm("Once upon a time, a firefighter saved a cat from a very tall tree.")
    actions.add_tts(6.0)
    actions.add_user_speech(5.0, 6.0, "Stop!")
    actions.add_llm("Okay, I stopped.")
    actions.add_tts(1.0)
    session = create_session(actions)
    lines: list[tuple[float, str]] = []

    def log(text: str) -> Any:
        return lambda ev: lines.append((ev.created_at, text.format(ev=ev)))

    session.on("user_state_changed", log("user  {ev.old_state} -> {ev.new_state}"))
    session.on("agent_state_changed", log("agent {ev.old_state} -> {ev.new_state}"))
    session.on(
        "conversation_item_added",
        lambda ev: lines.append((ev.created_at, f"item  {_describe(ev.item)}")),
    )
    origin = await run_session(session, Storyteller(), drain_delay=3.0)
    for t, text in lines:
        print(f"{t - origin:6.2f}s  {text[:110]}")


if __name__ == "__main__":
    run(main())
