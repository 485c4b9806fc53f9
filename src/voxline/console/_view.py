"""A live terminal view of a console session: states, microphone level, both transcripts.

On a terminal it is a `rich.live.Live` panel redrawn a few times a second; anywhere else
(a pipe, a log file, CI) it prints one plain line per event instead, because cursor-moving
redraws turn into garbage in a file. `rich` is imported when a view is created, so importing
`voxline.console` (which `AgentSession.start()` does) stays cheap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from .._utils.aio import now
from ..audio import AudioFrame, rms_dbfs
from ..voice.io import AudioInput, TextOutput

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from ..voice.session import AgentSession

__all__ = ["ConsoleView"]

_FLOOR_DB = -60.0
_DECAY_DB_PER_S = 24.0
_METER_WIDTH = 30


class _MeteredInput(AudioInput):
    """Passes frames through unchanged and shows each one's level on the view."""

    def __init__(self, source: AudioInput, observe: Callable[[AudioFrame], None]) -> None:
        self._source = source
        self._observe = observe

    @property
    def source(self) -> AudioInput:
        return self._source

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        async for frame in self._source:
            self._observe(frame)
            yield frame

    def on_attached(self) -> None:
        self._source.on_attached()

    def on_detached(self) -> None:
        self._source.on_detached()


class _ViewTextOutput(TextOutput):
    """Streams the agent's words into the view while they are being said."""

    def __init__(self, view: ConsoleView) -> None:
        self._view = view
        self._segment_done = True

    async def capture_text(self, text: str) -> None:
        if self._segment_done:
            self._view.agent_partial = ""
            self._segment_done = False
        self._view.agent_partial += text

    def flush(self) -> None:
        self._segment_done = True


class ConsoleView:
    """Shows what a session is doing, from its events.

    `attach(session)` subscribes to the session's events (and starts the live display on a
    terminal); `detach()` unsubscribes. Wrap the microphone with `metered(input)` for the level
    meter and use `text_output()` as the session's transcription output to see the agent's
    words as they stream.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        live: bool | None = None,
        max_lines: int = 10,
        refresh_per_second: float = 10.0,
    ) -> None:
        from rich.console import Console

        self.console: Console = console if console is not None else Console()
        self._live_enabled = self.console.is_terminal if live is None else live
        self._refresh = refresh_per_second
        self.agent_state = "initializing"
        self.user_state = "listening"
        self.level_db = _FLOOR_DB
        """Input level in dBFS with a falling peak hold, as the meter shows it."""
        self.lines: deque[tuple[str, str]] = deque(maxlen=max_lines)
        self.user_partial = ""
        self.agent_partial = ""
        self._session: AgentSession[Any] | None = None
        self._origin: float | None = None
        self._live: Live | None = None
        self._handlers: list[tuple[str, Callable[[Any], None]]] = []

    @property
    def is_live(self) -> bool:
        """True when redrawing in place (a terminal); False when printing plain lines."""
        return self._live_enabled

    # ------------------------------------------------------------------ wiring

    def metered(self, source: AudioInput) -> AudioInput:
        return _MeteredInput(source, self.observe_frame)

    def text_output(self) -> TextOutput:
        return _ViewTextOutput(self)

    def attach(self, session: AgentSession[Any]) -> None:
        if self._session is not None:
            self.detach()
        self._session = session
        self._origin = now()
        self.agent_state = session.agent_state
        self.user_state = session.user_state
        self._handlers = [
            ("agent_state_changed", self._on_agent_state),
            ("user_state_changed", self._on_user_state),
            ("user_input_transcribed", self._on_transcribed),
            ("conversation_item_added", self._on_item_added),
            ("close", self._on_close),
        ]
        for name, handler in self._handlers:
            session.on(name, handler)  # type: ignore[arg-type]
        self.start()

    def detach(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            for name, handler in self._handlers:
                session.off(name, handler)  # type: ignore[arg-type]
        self._handlers = []
        self.stop()

    def start(self) -> None:
        if not self._live_enabled or self._live is not None:
            return
        from rich.live import Live

        self._live = Live(
            get_renderable=self.render,
            console=self.console,
            refresh_per_second=self._refresh,
            transient=False,
        )
        self._live.start()

    def stop(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    # ------------------------------------------------------------------ events

    def _say(self, text: str) -> None:
        """A plain line (non-terminal mode only): time since attach, then the event."""
        if self._live_enabled:
            return
        t = now() - (self._origin or 0.0)
        self.console.print(f"[{t:7.2f}s] {text}", markup=False, highlight=False, soft_wrap=True)

    def _on_agent_state(self, ev: Any) -> None:
        self.agent_state = ev.new_state
        self._say(f"agent: {ev.old_state} -> {ev.new_state}")

    def _on_user_state(self, ev: Any) -> None:
        self.user_state = ev.new_state
        self._say(f"user: {ev.old_state} -> {ev.new_state}")

    def _on_transcribed(self, ev: Any) -> None:
        self.user_partial = "" if ev.is_final else ev.transcript
        if ev.is_final and ev.transcript:
            self._say(f"user transcript: {ev.transcript}")

    def _on_item_added(self, ev: Any) -> None:
        item = ev.item
        if getattr(item, "type", None) != "message" or item.role not in ("user", "assistant"):
            return
        text = item.text_content or ""
        if not text:
            return
        if item.role == "assistant":
            self.agent_partial = ""
            if item.interrupted:
                text += " [interrupted]"
            self.lines.append(("agent", text))
            self._say(f"agent said: {text}")
        else:
            self.user_partial = ""
            self.lines.append(("user", text))
            self._say(f"user said: {text}")

    def _on_close(self, ev: Any) -> None:
        reason = getattr(getattr(ev, "reason", None), "value", ev)
        self._say(f"session closed ({reason})")

    def observe_frame(self, frame: AudioFrame) -> None:
        db = max(rms_dbfs(frame), _FLOOR_DB)
        held = self.level_db - _DECAY_DB_PER_S * frame.duration
        self.level_db = max(db, held, _FLOOR_DB)

    # ------------------------------------------------------------------ drawing

    def meter(self) -> str:
        filled = round((self.level_db - _FLOOR_DB) / -_FLOOR_DB * _METER_WIDTH)
        filled = min(max(filled, 0), _METER_WIDTH)
        return "█" * filled + "░" * (_METER_WIDTH - filled)

    def render(self) -> RenderableType:
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for who, state in (("agent", self.agent_state), ("user", self.user_state)):
            table.add_row(who, Text(state, style=_STATE_STYLES.get(state, "")))
        table.add_row("mic", Text(f"{self.meter()} {self.level_db:6.1f} dBFS", style="green"))
        for who, text in list(self.lines):
            table.add_row(who, Text(text))
        if self.user_partial:
            table.add_row("user", Text(self.user_partial, style="dim italic"))
        if self.agent_partial:
            table.add_row("agent", Text(self.agent_partial, style="dim italic"))
        return table


_STATE_STYLES = {
    "speaking": "bold green",
    "thinking": "yellow",
    "listening": "cyan",
    "away": "red",
    "initializing": "dim",
}
