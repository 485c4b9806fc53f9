"""RoomIO: binds an AgentSession to a room.

It links the session to one participant (the first of an allowed kind, or a chosen
identity), feeds that participant's microphone (and camera) to the session, publishes the
agent's voice as a track, sends both sides' transcripts on `lk.transcription`, takes chat on
`lk.chat`, mirrors the agent state in the `lk.agent.state` attribute, and closes the session
when the linked participant hangs up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any

from ..._utils.aio import TaskSet, short_id
from ...rtc import (
    DisconnectReason,
    RemoteAudioTrack,
    RemoteParticipant,
    RemoteTrackPublication,
    RemoteVideoTrack,
    Room,
    TextStreamReader,
    Track,
    TrackKind,
    TrackSource,
)
from ..events import AgentStateChangedEvent, CloseReason, UserInputTranscribedEvent
from ._input import RoomAudioInput, RoomVideoInput
from ._output import OrderedSender, RoomAudioOutput, RoomTranscriptionOutput
from ._pre_connect import PreConnectAudio
from .types import (
    ATTRIBUTE_AGENT_STATE,
    ATTRIBUTE_PUBLISH_ON_BEHALF,
    ATTRIBUTE_SEGMENT_ID,
    ATTRIBUTE_TRANSCRIBED_TRACK_ID,
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    DEFAULT_CLOSE_ON_DISCONNECT_REASONS,
    TOPIC_CHAT,
    TOPIC_TRANSCRIPTION,
    RoomOptions,
    TextInputEvent,
    TextInputOptions,
)

if TYPE_CHECKING:
    from ..session import AgentSession

logger = logging.getLogger("voxline.room_io")


def _as_room(room: Any) -> Room:
    """A `voxline.rtc.Room`, unwrapping a job's `ctx.room`."""
    if isinstance(room, Room):
        return room
    native = getattr(room, "native", None) if hasattr(type(room), "native") else None
    if isinstance(native, Room):
        return native
    raise TypeError(
        f"RoomIO needs a connected voxline.rtc.Room (or a job's ctx.room after ctx.connect()), "
        f"got {type(room).__name__}"
    )


class RoomIO:
    """`RoomIO(session, room, options)`; `await room_io.start()` before or instead of
    `session.start(room=...)`, which creates one itself."""

    def __init__(
        self,
        agent_session: AgentSession[Any],
        room: Any,
        options: RoomOptions | None = None,
        *,
        participant: RemoteParticipant | str | None = None,
    ) -> None:
        if options is not None and not isinstance(options, RoomOptions):
            raise TypeError(f"options must be room_io.RoomOptions, got {type(options).__name__}")
        self._session = agent_session
        self._room_arg = room
        self._room: Room | None = None
        self._options = options or RoomOptions()
        identity = (
            participant.identity if isinstance(participant, RemoteParticipant) else participant
        )
        self._wanted_identity: str | None = identity or self._options.participant_identity
        self._linked: RemoteParticipant | None = None
        self._participant_available: asyncio.Future[RemoteParticipant] | None = None
        self._tasks = TaskSet()
        self._sender = OrderedSender()
        self._link_lock = asyncio.Lock()
        self._audio_input: RoomAudioInput | None = None
        self._video_input: RoomVideoInput | None = None
        self._audio_output: RoomAudioOutput | None = None
        self._text_output: RoomTranscriptionOutput | None = None
        self._pre_connect: PreConnectAudio | None = None
        self._text_input: TextInputOptions | None = None
        self._user_segment_id: str | None = None
        self._hold = False
        """After `unset_participant()`: link nobody until `set_participant()`."""
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------ properties

    @property
    def room(self) -> Room:
        if self._room is None:
            self._room = _as_room(self._room_arg)
        return self._room

    @property
    def options(self) -> RoomOptions:
        return self._options

    @property
    def linked_participant(self) -> RemoteParticipant | None:
        return self._linked

    @property
    def audio_input(self) -> RoomAudioInput | None:
        return self._audio_input

    @property
    def video_input(self) -> RoomVideoInput | None:
        return self._video_input

    @property
    def audio_output(self) -> RoomAudioOutput | None:
        return self._audio_output

    @property
    def transcription_output(self) -> RoomTranscriptionOutput | None:
        return self._text_output

    async def wait_for_participant(self) -> RemoteParticipant:
        """The linked participant, once there is one."""
        if self._linked is not None:
            return self._linked
        if self._participant_available is None or self._participant_available.done():
            self._participant_available = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._participant_available)

    # ------------------------------------------------------------------ start / close

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("RoomIO.start() was already called")
        session = self._session
        existing = session._room_io
        if existing is not None and existing is not self:
            raise RuntimeError("the session already has a RoomIO")
        room = self.room
        if not room.isconnected():
            raise RuntimeError("RoomIO needs a connected room: await room.connect(...) first")
        self._started = True
        session._room_io = self
        opts = self._options

        room.on("participant_connected", self._on_participant_connected)
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("track_published", self._on_track_published)
        room.on("track_subscribed", self._on_track_subscribed)
        room.on("track_unsubscribed", self._on_track_unsubscribed)
        room.on("disconnected", self._on_room_disconnected)

        self._text_input = opts.get_text_input()
        if self._text_input is not None:
            room.register_text_stream_handler(TOPIC_CHAT, self._on_chat)

        audio_in = opts.get_audio_input()
        if audio_in is not None:
            if audio_in.pre_connect_audio:
                self._pre_connect = PreConnectAudio(
                    room, timeout=audio_in.pre_connect_audio_timeout
                )
            self._audio_input = RoomAudioInput(audio_in, self._pre_connect)
            session.input.audio = self._audio_input
        if opts.get_video_input() is not None:
            self._video_input = RoomVideoInput()
            session.input.video = self._video_input

        audio_out = opts.get_audio_output()
        if audio_out is not None:
            self._audio_output = RoomAudioOutput(room, audio_out)
            await self._audio_output.start()
            session.output.audio = self._audio_output
        text_out = opts.get_text_output()
        if text_out is not None:
            output = self._audio_output
            self._text_output = RoomTranscriptionOutput(
                room, track_sid=lambda: output.track_sid if output is not None else None
            )
            session.output.transcription = self._text_output
            sync = text_out.sync_transcription
            session.output.sync_transcription = audio_out is not None if sync is None else sync
            session.output.transcription_speed_factor = text_out.transcription_speed_factor
            session.on("user_input_transcribed", self._on_user_transcript)

        session.on("agent_state_changed", self._on_agent_state_changed)
        session.on("close", self._on_session_close)
        self._publish_state(session.agent_state)

        candidate = self._find_candidate()
        if candidate is not None:
            await self._link(candidate)

    async def aclose(self) -> None:
        """Detach from the room and the session. Idempotent."""
        if self._closed or not self._started:
            self._closed = True
            return
        self._closed = True
        room = self.room
        session = self._session
        for event, handler in (
            ("participant_connected", self._on_participant_connected),
            ("participant_disconnected", self._on_participant_disconnected),
            ("track_published", self._on_track_published),
            ("track_subscribed", self._on_track_subscribed),
            ("track_unsubscribed", self._on_track_unsubscribed),
            ("disconnected", self._on_room_disconnected),
        ):
            room.off(event, handler)  # type: ignore[arg-type]
        session.off("user_input_transcribed", self._on_user_transcript)
        session.off("agent_state_changed", self._on_agent_state_changed)
        session.off("close", self._on_session_close)
        if self._text_input is not None:
            room.unregister_text_stream_handler(TOPIC_CHAT)
        if self._pre_connect is not None:
            self._pre_connect.close()
        await self._tasks.aclose()
        for part in (self._audio_input, self._video_input, self._audio_output, self._text_output):
            if part is not None:
                await part.aclose()
        if session.input.audio is self._audio_input and self._audio_input is not None:
            session.input.audio = None
        if session.input.video is self._video_input and self._video_input is not None:
            session.input.video = None
        if session.output.audio is self._audio_output and self._audio_output is not None:
            session.output.audio = None
        if session.output.transcription is self._text_output and self._text_output is not None:
            session.output.transcription = None
        await self._sender.aclose()
        if self._options.delete_room_on_close and room.isconnected():
            await self._delete_room(room)
        if self._participant_available is not None and not self._participant_available.done():
            self._participant_available.cancel()

    async def _delete_room(self, room: Room) -> None:
        try:
            await room.delete_room()
            return
        except NotImplementedError:
            pass
        except Exception as e:
            logger.warning("could not delete room %s: %s", room.name, e)
            return
        from ...worker.job import current_job_context

        job = current_job_context()
        if job is None:
            logger.warning("cannot delete room %s: its backend cannot and no job runs", room.name)
            return
        await job.delete_room(room.name)

    def _on_session_close(self, ev: Any) -> None:
        pass  # the session closes this RoomIO itself (AgentSession.aclose -> aclose())

    # ------------------------------------------------------------------ linking

    def _accepts(self, participant: RemoteParticipant) -> bool:
        if self._wanted_identity is not None:
            return participant.identity == self._wanted_identity
        if participant.attributes.get(ATTRIBUTE_PUBLISH_ON_BEHALF):
            return False  # an avatar worker publishing for the agent, not a person
        return participant.kind in self._options.kinds()

    def _find_candidate(self) -> RemoteParticipant | None:
        for participant in self.room.remote_participants.values():
            if self._accepts(participant):
                return participant
        return None

    def set_participant(self, participant_identity: str | None) -> None:
        """Link to `participant_identity` (now if present, else when it joins); None goes
        back to linking the first participant of an allowed kind."""
        self._wanted_identity = participant_identity
        if self._linked is not None and participant_identity == self._linked.identity:
            return
        self._tasks.create(self._relink(), name="room_io_relink")

    def unset_participant(self) -> None:
        """Stop listening to anyone until `set_participant()` is called."""
        self._wanted_identity = None
        self._tasks.create(self._unlink(hold=True), name="room_io_unlink")

    async def _relink(self) -> None:
        await self._unlink()
        candidate = self._find_candidate()
        if candidate is not None:
            await self._link(candidate)

    async def _link(self, participant: RemoteParticipant) -> None:
        async with self._link_lock:
            if self._closed or self._linked is not None:
                return
            self._linked = participant
            self._hold = False
            logger.debug("linked participant %s", participant.identity)
            if self._participant_available is not None and not self._participant_available.done():
                self._participant_available.set_result(participant)
            for pub in participant.track_publications.values():
                await self._use_publication(participant, pub)

    async def _unlink(self, *, hold: bool = False) -> None:
        async with self._link_lock:
            self._linked = None
            self._hold = hold
            self._user_segment_id = None
            if self._audio_input is not None:
                await self._audio_input.unset()
            if self._video_input is not None:
                await self._video_input.unset()

    async def _use_publication(
        self, participant: RemoteParticipant, pub: RemoteTrackPublication
    ) -> None:
        if pub.kind == TrackKind.KIND_AUDIO and self._audio_input is None:
            return
        if pub.kind == TrackKind.KIND_VIDEO and self._video_input is None:
            return
        if not pub.subscribed:
            pub.set_subscribed(True)  # track_subscribed follows
            return
        track = pub.track
        if isinstance(track, RemoteAudioTrack) and self._audio_input is not None:
            if self._audio_input.track is None or pub.source == TrackSource.SOURCE_MICROPHONE:
                await self._audio_input.set_track(participant, track)
        elif isinstance(track, RemoteVideoTrack) and self._video_input is not None:
            if self._video_input.track is None or pub.source == TrackSource.SOURCE_CAMERA:
                await self._video_input.set_track(track)

    # ------------------------------------------------------------------ room events

    def _on_participant_connected(self, participant: RemoteParticipant) -> None:
        if self._linked is None and not self._hold and self._accepts(participant):
            self._tasks.create(self._link(participant), name="room_io_link")

    def _on_participant_disconnected(self, participant: RemoteParticipant) -> None:
        if self._linked is None or participant.identity != self._linked.identity:
            return
        reason = participant.disconnect_reason
        logger.debug("linked participant %s left (%s)", participant.identity, reason)
        if self._options.close_on_disconnect and reason in DEFAULT_CLOSE_ON_DISCONNECT_REASONS:
            self._session._start_close(CloseReason.PARTICIPANT_DISCONNECTED)
            return
        # someone else (or the same person, back after a network loss) may link next
        self._tasks.create(self._relink(), name="room_io_relink")

    def _on_track_published(
        self, pub: RemoteTrackPublication, participant: RemoteParticipant
    ) -> None:
        if self._linked is not None and participant.identity == self._linked.identity:
            self._tasks.create(self._use_publication(participant, pub), name="room_io_track")

    def _on_track_subscribed(
        self, track: Track[Any], pub: RemoteTrackPublication, participant: RemoteParticipant
    ) -> None:
        if self._linked is not None and participant.identity == self._linked.identity:
            self._tasks.create(self._use_publication(participant, pub), name="room_io_track")

    def _on_track_unsubscribed(
        self, track: Track[Any], pub: RemoteTrackPublication, participant: RemoteParticipant
    ) -> None:
        if self._audio_input is not None and self._audio_input.track is track:
            self._tasks.create(self._audio_input.unset(), name="room_io_track_end")
        if self._video_input is not None and self._video_input.track is track:
            self._tasks.create(self._video_input.unset(), name="room_io_track_end")

    def _on_room_disconnected(self, reason: DisconnectReason) -> None:
        if self._options.close_on_disconnect and reason in DEFAULT_CLOSE_ON_DISCONNECT_REASONS:
            self._session._start_close(CloseReason.PARTICIPANT_DISCONNECTED)

    # ------------------------------------------------------------------ text in

    def _on_chat(self, reader: TextStreamReader, identity: str) -> Any:
        linked = self._linked
        if linked is None or identity != linked.identity:
            return None  # only the linked participant talks to the agent
        return self._handle_chat(reader, linked)

    async def _handle_chat(self, reader: TextStreamReader, participant: RemoteParticipant) -> None:
        text = await reader.read_all()
        if not text.strip():
            return
        options = self._text_input
        event = TextInputEvent(text=text, info=reader.info, participant=participant)
        callback = options.text_input_cb if options is not None else None
        if callback is None:
            await _default_text_input(self._session, event)
            return
        result = callback(self._session, event)
        if inspect.isawaitable(result):
            await result

    # ------------------------------------------------------------------ text out

    def _on_user_transcript(self, ev: UserInputTranscribedEvent) -> None:
        linked = self._linked
        if linked is None:
            return
        if self._user_segment_id is None:
            self._user_segment_id = short_id("SG")
        attributes = {
            ATTRIBUTE_SEGMENT_ID: self._user_segment_id,
            ATTRIBUTE_TRANSCRIPTION_FINAL: "true" if ev.is_final else "false",
        }
        track = self._audio_input.track if self._audio_input is not None else None
        if track is not None:
            attributes[ATTRIBUTE_TRANSCRIBED_TRACK_ID] = track.sid
        if ev.is_final:
            self._user_segment_id = None
        identity = linked.identity
        text = ev.transcript
        room = self.room

        async def send() -> None:
            writer = await room.local_participant.stream_text(
                topic=TOPIC_TRANSCRIPTION, attributes=attributes, sender_identity=identity
            )
            await writer.write(text)
            await writer.aclose()

        self._sender.send(send)

    # ------------------------------------------------------------------ agent state

    def _on_agent_state_changed(self, ev: AgentStateChangedEvent) -> None:
        self._publish_state(ev.new_state)

    def _on_agent_state(self, state: str) -> None:
        """Called by the session on every state change (the event covers it already)."""

    def _publish_state(self, state: str) -> None:
        room = self.room
        if not room.isconnected():
            return
        self._sender.send(
            lambda: room.local_participant.set_attributes({ATTRIBUTE_AGENT_STATE: state})
        )


async def _default_text_input(session: AgentSession[Any], ev: TextInputEvent) -> None:
    """A chat message is the user's turn: stop the agent and answer it."""
    if session.lifecycle != "running":
        return
    session.interrupt()
    session.generate_reply(user_input=ev.text)
