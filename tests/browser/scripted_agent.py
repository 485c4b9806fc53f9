"""A scripted agent participant for the page test: an in-process room server and one agent
that talks the wire conventions directly (no AgentSession), so the page is tested on its own.

It waits until the browser's microphone has carried the question (speech, then silence),
then publishes the user's transcript on the user's behalf, streams its answer on
`lk.transcription` word by word while it plays the answer's espeak-ng audio, moves its
`lk.agent.state` through thinking, speaking and listening, and answers chat on `lk.chat`.
"""

from __future__ import annotations

import asyncio
import subprocess
from types import TracebackType
from typing import Any

import numpy as np
import soxr

from voxline import rtc
from voxline.audio import AudioFrame
from voxline.server import RoomServer

ROOM = "demo"
USER = "browser-user"
QUESTION = "What is the capital of France?"
ANSWER = "The capital of France is Paris."
RATE = 48000
FRAME = RATE // 50
SPEECH_RMS = 300.0  # int16 units: the question is ~3000, an idle fake microphone is ~0


def espeak_pcm(text: str) -> np.ndarray:
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "--stdout", text], check=True, capture_output=True, timeout=30
    ).stdout
    rate = int.from_bytes(wav[24:28], "little")
    pcm = np.frombuffer(wav[44:], dtype=np.int16).astype(np.float32) / 32768
    return (soxr.resample(pcm, rate, RATE) * 32767).astype(np.int16)


class ScriptedRoom:
    def __init__(self) -> None:
        self.server = RoomServer("scripted", "a-secret-for-the-scripted-room-test")
        self.agent = rtc.Room()
        self.url = ""
        self.heard_speech_s = 0.0
        self.heard_peak_rms = 0.0
        self.chats: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> ScriptedRoom:
        await self.server.start("127.0.0.1", 0)
        self.server.create_room(ROOM)
        token = self.server.token(ROOM, USER, name="You")
        self.url = f"{self.server.http_url}/playground/playground.html#token={token}"
        self.agent.on("track_subscribed", self._on_track)
        self.agent.register_text_stream_handler("lk.chat", self._on_chat)
        await self.agent.connect(
            self.server.room_url, self.server.token(ROOM, "agent", kind="agent", name="Agent")
        )
        await self._set_state("listening")
        self._heard = asyncio.Event()
        self._task = asyncio.ensure_future(self._converse())
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.agent.disconnect()
        await self.server.aclose()

    async def report(self) -> dict[str, Any]:
        if self._task is not None and self._task.done() and self._task.exception():
            raise self._task.exception()  # type: ignore[misc]
        return {
            "heard_speech_s": round(self.heard_speech_s, 2),
            "heard_peak_rms": round(self.heard_peak_rms, 1),
            "chats": self.chats,
        }

    async def _set_state(self, state: str) -> None:
        await self.agent.local_participant.set_attributes({"lk.agent.state": state})

    def _on_chat(self, reader: rtc.TextStreamReader, identity: str) -> None:
        async def read() -> None:
            text = await reader.read_all()
            self.chats.append(text)
            await self.agent.local_participant.send_text(f"You wrote: {text}", topic="lk.chat")

        self._spawn(read())

    def _on_track(self, track: Any, publication: Any, participant: Any) -> None:
        if participant.identity == USER and isinstance(track, rtc.RemoteAudioTrack):
            self._spawn(self._listen(track))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self, track: rtc.RemoteAudioTrack) -> None:
        """The question is heard once >= 1 s of speech is followed by 0.6 s of quiet."""
        quiet = 0.0
        async for event in rtc.AudioStream(track, sample_rate=RATE, num_channels=1):
            frame = event.frame
            rms = float(np.sqrt(np.mean(frame.data.astype(np.float64) ** 2)))
            if rms > SPEECH_RMS:
                self.heard_speech_s += frame.duration
                self.heard_peak_rms = max(self.heard_peak_rms, rms)
                quiet = 0.0
            else:
                quiet += frame.duration
            if self.heard_speech_s >= 1.0 and quiet >= 0.6:
                self._heard.set()

    async def _converse(self) -> None:
        await self._heard.wait()
        local = self.agent.local_participant
        user_transcript = await local.stream_text(
            topic="lk.transcription",
            attributes={"lk.segment_id": "SG_user", "lk.transcription_final": "true"},
            sender_identity=USER,
        )
        await user_transcript.write(QUESTION)
        await user_transcript.aclose()
        await self._set_state("thinking")
        source = rtc.AudioSource(RATE, 1)
        await local.publish_track(rtc.LocalAudioTrack.create_audio_track("agent-voice", source))
        pcm = espeak_pcm(ANSWER)
        await self._set_state("speaking")
        writer = await local.stream_text(
            topic="lk.transcription",
            attributes={"lk.segment_id": "SG_agent", "lk.transcription_final": "false"},
        )
        words = ANSWER.split()
        frames = [pcm[i : i + FRAME] for i in range(0, pcm.size - FRAME, FRAME)]
        per_word = max(1, len(frames) // len(words))
        for index, chunk in enumerate(frames):
            if index % per_word == 0 and index // per_word < len(words):
                await writer.write(words[index // per_word] + " ")
            await source.capture_frame(AudioFrame(chunk.copy(), RATE, 1, FRAME))
        await writer.aclose(attributes={"lk.transcription_final": "true"})
        await source.wait_for_playout()
        await self._set_state("listening")
