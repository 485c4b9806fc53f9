"""Records a session's events as a timeline relative to the time origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxline import AgentSession

EVENTS = (
    "agent_state_changed",
    "user_state_changed",
    "conversation_item_added",
    "user_input_transcribed",
    "metrics_collected",
    "function_tools_executed",
    "agent_false_interruption",
    "user_transcription_timeout",
    "user_turn_exceeded",
    "speech_created",
    "error",
    "close",
    "dtmf_sent",
    "ivr_loop_detected",
    "ivr_silence_detected",
)

TOLERANCE = 0.05


@dataclass
class Timeline:
    events: list[tuple[str, Any]] = field(default_factory=list)
    origin: float = 0.0

    def of(self, name: str) -> list[Any]:
        return [ev for n, ev in self.events if n == name]

    def at(self, ev: Any) -> float:
        return float(ev.created_at) - self.origin

    def agent_states(self, *, with_close: bool = False) -> list[tuple[str, str, float]]:
        """Agent state transitions; the reset to initializing on close only if asked."""
        states = [(e.old_state, e.new_state, self.at(e)) for e in self.of("agent_state_changed")]
        if not with_close and self.of("close") and states and states[-1][1] == "initializing":
            states = states[:-1]
        return states

    def user_states(self) -> list[tuple[str, str, float]]:
        return [(e.old_state, e.new_state, self.at(e)) for e in self.of("user_state_changed")]

    def items(self) -> list[Any]:
        return [e.item for e in self.of("conversation_item_added")]


def record(session: AgentSession[Any]) -> Timeline:
    timeline = Timeline()
    for name in EVENTS:
        session.on(name, lambda ev, name=name: timeline.events.append((name, ev)))  # type: ignore[misc]
    return timeline


def assert_transitions(
    actual: list[tuple[str, str, float]], expected: list[tuple[str, str, float | None]]
) -> None:
    got = [(a, b) for a, b, _ in actual]
    want = [(a, b) for a, b, _ in expected]
    assert got == want, f"transitions {got} != {want}"
    for (a, b, t), (_, _, target) in zip(actual, expected):
        if target is not None:
            assert abs(t - target) <= TOLERANCE, f"{a}->{b} at {t:.3f}, expected {target:.3f}"


def approx(value: float | None, target: float) -> bool:
    return value is not None and abs(value - target) <= TOLERANCE
