"""Offline Piper text-to-speech: `piper.TTS(voice="en_US-joe-medium")`.

piper-tts is GPL-3.0-or-later, so it is the optional `piper` extra
(`pip install 'voxline[piper]'`) and is imported only when a voice loads; this package itself
imports without it. The voice files come from a PyPI package, verified by sha256 and cached.
`default_tts()` picks Piper when installed and the espeak-ng TTS otherwise.
"""

from .._files import register_download
from ._default import default_tts
from ._runtime import PiperNotInstalledError, piper_available
from ._voices import VOICES
from .tts import TTS

__all__ = ["TTS", "VOICES", "PiperNotInstalledError", "default_tts", "piper_available"]

# `download-files` from an agent script that imports this plugin fetches its voice too
register_download("local/piper-joe", VOICES["en_US-joe-medium"].files)
