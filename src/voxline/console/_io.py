"""ConsoleIO: the I/O a console job gives its AgentSession instead of a room.

The CLI builds one (microphone/speaker, WAV files, or typed text), makes it current with
`use_console_io`, and asks the server to run a job; the session started in that job attaches
to it (`AgentSession.start()` calls `attach(self)`). The CLI then waits on it to know when
the conversation is over: finite inputs (a WAV file, piped text) have ended and the agent has
finished talking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._utils.aio import now
from ..voice.io import AudioInput, AudioOutput, TextOutput
from ._text import TextConsole
from ._wav import WavAudioInput

if TYPE_CHECKING:
    from ..voice.session import AgentSession
    from ._view import ConsoleView

__all__ = ["ConsoleIO"]

logger = logging.getLogger("voxline.console")

_BUSY_AGENT_STATES = ("thinking", "speaking")


@dataclass(eq=False)
class ConsoleIO:
    """Where a console session's audio and text come from and go to.

    Every slot is optional: text mode has only `text_input`/`text_output`, WAV mode only
    audio. `view` (a `ConsoleView`) is subscribed to the session's events and meters the
    audio input. One session at a time may be attached.
    """

    audio_input: AudioInput | None = None
    audio_output: AudioOutput | None = None
    text_output: TextOutput | None = None
    text_input: AsyncIterable[str] | None = None
    """Lines the user types; each becomes `session.generate_reply(user_input=line)`."""
    view: ConsoleView | None = None
    wait_for_reply: bool = True
    """Text input: send the next line only once the reply to the previous one is done."""

    _session: AgentSession[Any] | None = field(default=None, init=False, repr=False)
    _text_console: TextConsole | None = field(default=None, init=False, repr=False)
    _attached: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _session_closed: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    @property
    def session(self) -> AgentSession[Any] | None:
        """The attached session, if any."""
        return self._session

    @property
    def text_console(self) -> TextConsole | None:
        return self._text_console

    # ------------------------------------------------------------------ attach

    def attach(self, session: AgentSession[Any]) -> None:
        """Plug this I/O into `session`'s slots and start reading typed lines.

        `AgentSession.start()` calls it instead of setting up a RoomIO when
        `current_console_io()` returns this object. Call it while the session's lifecycle is
        still "initializing": filling the input slot of a starting session starts an audio
        forwarding task that `start()` then restarts. Attaching the same session again is a
        no-op (the job and `start()` may both do it).
        """
        if self._closed:
            raise RuntimeError("this ConsoleIO is closed")
        if self._session is session:
            return  # attached already (e.g. by the job, then again by start())
        if self._session is not None and self._session.lifecycle != "closed":
            raise RuntimeError("this ConsoleIO is already attached to a running session")
        self._session = session
        self._session_closed.clear()
        audio_input = self.audio_input
        if audio_input is not None and self.view is not None:
            audio_input = self.view.metered(audio_input)
        if audio_input is not None:
            session.input.audio = audio_input
        if self.audio_output is not None:
            session.output.audio = self.audio_output
        if self.text_output is not None:
            session.output.transcription = self.text_output
        if self.view is not None:
            self.view.attach(session)
        if self.text_input is not None:
            self._text_console = TextConsole(
                session, lines=self.text_input, wait_for_reply=self.wait_for_reply
            )
            self._text_console.start()
        session.once("close", self._on_session_close)
        self._attached.set()

    def _on_session_close(self, ev: Any) -> None:
        self._session_closed.set()

    # ------------------------------------------------------------------ waiting

    async def wait_attached(self) -> AgentSession[Any]:
        await self._attached.wait()
        assert self._session is not None
        return self._session

    async def wait_session_closed(self) -> None:
        """Wait until a session was attached and then closed."""
        await self._attached.wait()
        await self._session_closed.wait()

    async def wait_input_ended(self) -> None:
        """Wait until every finite input (WAV file, text lines) has ended; forever when an
        endless input (a microphone) is attached."""
        waits: list[Any] = []
        if isinstance(self.audio_input, WavAudioInput):
            waits.append(self.audio_input.ended.wait())
        elif self.audio_input is not None:
            await asyncio.Event().wait()  # a live microphone never ends by itself
        if self.text_input is not None:
            await self._attached.wait()
            assert self._text_console is not None
            waits.append(self._text_console.ended.wait())
        if waits:
            await asyncio.gather(*waits)

    def _busy(self, session: AgentSession[Any]) -> bool:
        return (
            session.agent_state in _BUSY_AGENT_STATES
            or session.user_state == "speaking"
            or session.current_speech is not None
            or bool(getattr(self.audio_output, "playing", False))
        )

    async def wait_idle(self, settle: float = 0.5, *, poll: float = 0.05) -> None:
        """Wait until the attached session has been quiet (nobody speaking, no reply being
        prepared or played) for `settle` seconds of loop time, or has closed."""
        session = await self.wait_attached()
        quiet_since: float | None = None
        while session.lifecycle != "closed":
            t = now()
            if self._busy(session):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = t
            elif t - quiet_since >= settle:
                return
            await asyncio.sleep(poll)

    async def wait_finished(self, settle: float = 0.5) -> None:
        """The conversation is over: inputs ended and the agent is done answering."""
        await self.wait_input_ended()
        await self.wait_idle(settle)

    # ------------------------------------------------------------------ closing

    async def close_session(self) -> None:
        """Close the attached session (what a participant leaving the room would do)."""
        session = self._session
        if session is not None and session.lifecycle not in ("closed", "initializing"):
            await session.aclose()

    async def aclose(self) -> None:
        """Close the session, stop reading text, and close the devices (completing the
        output WAV file)."""
        if self._closed:
            return
        self._closed = True
        await self.close_session()
        if self._text_console is not None:
            await self._text_console.aclose()
        if self.view is not None:
            self.view.detach()
        for slot in (self.audio_input, self.audio_output):
            closer = getattr(slot, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:
                    logger.exception("error closing console %s", type(slot).__name__)
