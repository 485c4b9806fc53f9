"""The zero-weight fallback TTS: the espeak-ng program, run as a subprocess per text.

espeak-ng is GPL-3.0; running the Debian binary and reading the WAV it writes to stdout keeps
that code out of voxline's process. It renders a sentence in a few milliseconds (a formant
synthesiser, no model), so there is nothing to gain from streaming its output: the whole WAV
is read, parsed and cut into small frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil

from ... import tts
from ..._exceptions import APIError
from ..._types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from ...audio import AudioResampler, combine_frames, read_wav, remix_channels, split_frame

SAMPLE_RATE = 22050
"""What espeak-ng writes for its own voices; anything else is resampled to it."""
FRAME_SECONDS = 0.02
_INSTALL_HINT = "apt-get install espeak-ng"


class EspeakNotFoundError(FileNotFoundError):
    """The espeak-ng program is not installed (or not where `binary=` says)."""


class TTS(tts.TTS):
    """`TTS(voice="en-us")`: espeak-ng at 22 050 Hz mono.

    `speed` is in words per minute (espeak-ng's own default is 175), `pitch` 0-99 (50 is the
    voice's normal pitch), `voice` any name `espeak-ng --voices` lists, variants included
    ("en-us+f3").
    """

    def __init__(
        self,
        voice: str = "en-us",
        *,
        speed: int = 175,
        pitch: int = 50,
        binary: str = "espeak-ng",
    ) -> None:
        if not voice or voice.startswith("-") or any(c.isspace() for c in voice):
            raise ValueError(f"voice must be an espeak-ng voice name like 'en-us', got {voice!r}")
        if not 80 <= speed <= 450:
            raise ValueError(f"speed must be 80-450 words per minute, got {speed}")
        if not 0 <= pitch <= 99:
            raise ValueError(f"pitch must be 0-99, got {pitch}")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self._binary = find_espeak(binary)
        self._voice = voice
        self._speed = speed
        self._pitch = pitch

    @property
    def model(self) -> str:
        return f"espeak-ng-{self._voice}"

    @property
    def label(self) -> str:
        return f"voxline.plugins.espeak.TTS({self._voice})"

    def command(self) -> list[str]:
        """The espeak-ng command line; the text goes to its stdin, so no text is ever read
        as an option."""
        return [
            self._binary,
            "-v",
            self._voice,
            "-s",
            str(self._speed),
            "-p",
            str(self._pitch),
            "--stdout",
        ]

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _EspeakStream(self, text, conn_options=conn_options)


def find_espeak(binary: str = "espeak-ng") -> str:
    """The program's full path, or a clear error that says how to install it."""
    path = shutil.which(binary)
    if path is None:
        raise EspeakNotFoundError(
            f"the espeak-ng TTS needs the espeak-ng program, and {binary!r} was not found "
            f"(PATH={os.environ.get('PATH', '')}): {_INSTALL_HINT}"
        )
    return path


class _EspeakStream(tts.ChunkedStream):
    async def _run(self) -> None:
        espeak = self._tts
        assert isinstance(espeak, TTS)
        if not self._text.strip():
            return
        wav = await _render(espeak.command(), self._text)
        audio = remix_channels(read_wav(wav), 1)
        if audio.sample_rate != SAMPLE_RATE:
            resampler = AudioResampler(audio.sample_rate, SAMPLE_RATE)
            pieces = resampler.push(audio) + resampler.flush()
            if not pieces:
                return
            audio = combine_frames(pieces)
        for frame in split_frame(audio, round(FRAME_SECONDS * SAMPLE_RATE)):
            self._emit(frame)


async def _render(command: list[str], text: str) -> bytes:
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as e:
        raise EspeakNotFoundError(f"{command[0]} is gone: {_INSTALL_HINT}") from e
    try:
        stdout, stderr = await proc.communicate(text.encode("utf-8"))
    finally:
        if proc.returncode is None:  # cancelled: the process must not outlive its stream
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        message = stderr.decode("utf-8", "replace").strip() or "no error message"
        raise APIError(
            f"espeak-ng failed (exit code {proc.returncode}): {message}", retryable=False
        )
    return stdout
