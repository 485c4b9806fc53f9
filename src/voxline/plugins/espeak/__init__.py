"""The espeak-ng TTS: `espeak.TTS(voice="en-us")`, the local fallback that needs no weights.

It runs the espeak-ng program (`apt-get install espeak-ng`) as a subprocess, so no GPL
library is linked into the process.
"""

from .tts import TTS, EspeakNotFoundError, find_espeak

__all__ = ["TTS", "EspeakNotFoundError", "find_espeak"]
