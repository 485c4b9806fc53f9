"""The local default TTS: Piper when its optional extra is installed, else espeak-ng."""

from __future__ import annotations

from ... import tts
from ._runtime import piper_available


def default_tts() -> tts.TTS:
    """Piper's neural voice sounds far better, but piper-tts is GPL-3.0-or-later and lives in
    an optional extra; espeak-ng (a Debian binary run as a subprocess) needs no weights."""
    if piper_available():
        from .tts import TTS

        return TTS()
    from ..espeak import TTS as EspeakTTS

    return EspeakTTS()
