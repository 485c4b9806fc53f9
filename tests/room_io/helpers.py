"""A memory room with an agent session and scripted users who publish a microphone, read
the agent's audio, transcripts and state, and chat."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from voxline import Agent, AgentSession, rtc
from voxline.audio import AudioFrame
from voxline.room_io import RoomOptions
from voxline.testing.fakes import FakeActions, FakeLLM, FakeSTT, FakeTTS, FakeVAD

ROOM = "r1"


async def settle(n: int = 10) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@dataclass
class Transcript:
    sender: str
    text: str
    attributes: dict[str, str]


@dataclass
class User:
    """A participant: a microphone at 48 kHz, and everything it receives from the agent."""

    room: rtc.Room
    identity: str
    mic: rtc.AudioSource | None = None
    mic_sid: str = ""
    transcripts: list[Transcript] = field(default_factory=list)
    agent_states: list[str] = field(default_factory=list)
    heard_seconds: float = 0.0
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.room.register_text_stream_handler("lk.transcription", self._on_transcript)
        self.room.on("participant_attributes_changed", self._on_attributes)
        self.room.on("track_subscribed", self._on_track)

    async def _on_transcript(self, reader: rtc.TextStreamReader, identity: str) -> None:
        text = await reader.read_all()
        self.transcripts.append(Transcript(identity, text, dict(reader.info.attributes)))

    def _on_attributes(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        state = changed.get("lk.agent.state")
        if state and participant.identity != self.identity:
            self.agent_states.append(state)

    def _on_track(self, track: Any, pub: rtc.RemoteTrackPublication, p: Any) -> None:
        if isinstance(track, rtc.RemoteAudioTrack):
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: rtc.RemoteAudioTrack) -> None:
        async for ev in rtc.AudioStream(track, sample_rate=48000):
            self.heard_seconds += ev.frame.duration

    async def publish_mic(self) -> rtc.LocalTrackPublication:
        self.mic = rtc.AudioSource(48000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("mic", self.mic)
        pub = await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self.mic_sid = pub.sid
        return pub

    def talk(self, seconds: float) -> asyncio.Task[None]:
        """Feed `seconds` of (quiet) microphone audio in real time; the fakes script what
        the user says, the audio only has to flow."""

        async def feed() -> None:
            assert self.mic is not None
            for _ in range(round(seconds / 0.02)):
                await self.mic.capture_frame(AudioFrame.create(48000, 1, 960))

        task = asyncio.ensure_future(feed())
        self._tasks.append(task)
        return task

    async def chat(self, text: str) -> None:
        await self.room.local_participant.send_text(text, topic="lk.chat")

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.mic is not None:
            await self.mic.aclose()
        await self.room.disconnect()


@dataclass
class Setup:
    hub: rtc.MemoryHub
    agent_room: rtc.Room
    session: AgentSession[Any]
    actions: FakeActions
    users: list[User] = field(default_factory=list)

    async def join(self, identity: str, *, kind: str = "standard", mic: bool = True) -> User:
        room = self.hub.room()
        user = User(room, identity)
        await room.connect(f"memory://{ROOM}", self.hub.token(ROOM, identity, kind=kind))
        if mic:
            await user.publish_mic()
        self.users.append(user)
        await settle()
        return user

    async def aclose(self) -> None:
        await self.session.aclose()
        for user in self.users:
            await user.aclose()
        await self.agent_room.disconnect()
        await settle()


def make_session(actions: FakeActions, **kwargs: Any) -> AgentSession[Any]:
    options: dict[str, Any] = {
        "vad": FakeVAD(actions),
        "stt": FakeSTT(actions),
        "llm": FakeLLM(actions),
        "tts": FakeTTS(actions),
        "aec_warmup_duration": None,
        "turn_handling": {"endpointing": {"min_delay": 0.5, "max_delay": 6.0}},
    }
    options.update(kwargs)
    return AgentSession(**options)


async def start(
    options: RoomOptions | None = None,
    *,
    actions: FakeActions | None = None,
    before: list[tuple[str, str]] = (),  # type: ignore[assignment]
    start_session: bool = True,
    **session_kwargs: Any,
) -> Setup:
    """An agent in room r1 (users in `before` join first, as (identity, kind))."""
    hub = rtc.MemoryHub()
    actions = actions or FakeActions()
    agent_room = hub.room()
    await agent_room.connect(f"memory://{ROOM}", hub.token(ROOM, "agent", kind="agent"))
    session = make_session(actions, **session_kwargs)
    setup = Setup(hub, agent_room, session, actions)
    for identity, kind in before:
        await setup.join(identity, kind=kind)
    if start_session:
        await session.start(Agent(instructions="test"), room=agent_room, room_options=options)
        await settle()
    return setup
