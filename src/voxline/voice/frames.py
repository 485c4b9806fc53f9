"""Audio format at the session's edges: one input rate and mono for the models, the output's
rate for the speaker. Resamplers are kept per source rate so a stream stays continuous."""

from __future__ import annotations

from ..audio import AudioFrame, AudioResampler, combine_frames, remix_channels


class InputFrames:
    """Later frames are resampled to the first frame's rate, so a device switch mid-call
    does not break the models; more channels are mixed down to mono."""

    def __init__(self) -> None:
        self._rate: int | None = None
        self._resampler: AudioResampler | None = None

    def prepare(self, raw: object) -> AudioFrame | None:
        if not isinstance(raw, AudioFrame):
            raise TypeError(
                f"audio input must yield voxline.audio.AudioFrame, got {type(raw).__name__}"
            )
        frame: AudioFrame = raw
        if frame.num_channels != 1:
            frame = remix_channels(frame, 1)
        if self._rate is None:
            self._rate = frame.sample_rate
        if frame.sample_rate == self._rate:
            return frame
        rs = self._resampler
        if rs is None or rs.input_rate != frame.sample_rate:
            rs = self._resampler = AudioResampler(frame.sample_rate, self._rate)
        out = rs.push(frame)
        return combine_frames(out) if out else None  # the resampler keeps a few ms back


class OutputFrames:
    def __init__(self) -> None:
        self._resamplers: dict[tuple[int, int, int], AudioResampler] = {}

    def prepare(self, frame: AudioFrame, target_rate: int | None) -> AudioFrame:
        if target_rate is None or target_rate == frame.sample_rate:
            return frame
        key = (frame.sample_rate, target_rate, frame.num_channels)
        rs = self._resamplers.get(key)
        if rs is None:
            rs = self._resamplers[key] = AudioResampler(
                frame.sample_rate, target_rate, num_channels=frame.num_channels
            )
        out = rs.push(frame)
        if out:
            return combine_frames(out)
        return AudioFrame.create(target_rate, frame.num_channels, 0)

    def flush(self) -> list[AudioFrame]:
        """The samples the resamplers still hold, at the end of a segment (else its last
        milliseconds would play at the start of the next one)."""
        out: list[AudioFrame] = []
        for rs in self._resamplers.values():
            out.extend(rs.flush())
        return out

    def reset(self) -> None:
        """Drop what the resamplers hold (an interrupted segment must not leak on)."""
        self._resamplers.clear()
