"""The seed's noise-cancellation selector with the real processors, inside RoomIO: a phone
caller gets `Telephony()`, a browser user `NC()`, and every microphone frame goes through the
linked participant's processor in the format RoomIO reads (24 kHz, 50 ms)."""

from __future__ import annotations

import asyncio

import pytest

from room_io.helpers import settle, start
from voxline import rtc
from voxline.audio import AudioFrame
from voxline.plugins import noise_cancellation
from voxline.room_io import AudioInputOptions, NoiseCancellationParams, RoomOptions


class Counting:
    """Wraps a processor to see the frames RoomIO hands it and what it returns."""

    def __init__(self, inner: noise_cancellation.NoiseSuppressor) -> None:
        self.inner = inner
        self.shapes: set[tuple[int, int, int]] = set()
        self.closed = False

    def process(self, frame: AudioFrame) -> AudioFrame:
        out = self.inner.process(frame)
        assert (out.sample_rate, out.samples_per_channel) == (
            frame.sample_rate,
            frame.samples_per_channel,
        )
        self.shapes.add((frame.sample_rate, frame.num_channels, frame.samples_per_channel))
        return out

    def close(self) -> None:
        self.inner.close()
        self.closed = True


@pytest.mark.virtual_time
async def test_the_seeds_selector_picks_telephony_for_sip_callers() -> None:
    chosen: dict[str, Counting] = {}

    def select(params: NoiseCancellationParams) -> Counting:
        processor = (
            noise_cancellation.Telephony()
            if params.participant.kind == rtc.ParticipantKind.SIP
            else noise_cancellation.NC()
        )
        chosen[params.participant.identity] = Counting(processor)
        return chosen[params.participant.identity]

    s = await start(
        RoomOptions(audio_input=AudioInputOptions(noise_cancellation=select)),
        before=[("phone", "sip"), ("alice", "standard")],
    )
    s.users[0].talk(0.5)
    await asyncio.sleep(0.6)
    assert isinstance(chosen["phone"].inner, noise_cancellation.Telephony)
    assert chosen["phone"].shapes == {(24000, 1, 1200)}

    s.session.room_io.set_participant("alice")
    await settle()
    assert chosen["phone"].closed
    s.users[1].talk(0.3)
    await asyncio.sleep(0.4)
    assert isinstance(chosen["alice"].inner, noise_cancellation.NC)
    assert not isinstance(chosen["alice"].inner, noise_cancellation.Telephony)
    assert chosen["alice"].shapes == {(24000, 1, 1200)}
    await s.aclose()
