"""Audio primitives shared by every voxline pipeline stage.

Everything here works on :class:`AudioFrame` (int16 interleaved PCM) so components can be
chained without negotiating formats.
"""

from .bytestream import AudioByteStream
from .frame import AudioFrame, combine_frames, frames_from_array, split_frame
from .level import rms_dbfs, rms_level
from .resample import AudioResampler, ResampleQuality, remix_channels
from .wav import read_wav, wav_bytes, write_wav

__all__ = [
    "AudioByteStream",
    "AudioFrame",
    "AudioResampler",
    "ResampleQuality",
    "combine_frames",
    "frames_from_array",
    "read_wav",
    "remix_channels",
    "rms_dbfs",
    "rms_level",
    "split_frame",
    "wav_bytes",
    "write_wav",
]
