"""The `local/` model strings of the Whisper, Piper and espeak-ng plugins."""

from __future__ import annotations

import sys

import pytest

from voxline.models import UnknownModelError, resolve_model
from voxline.plugins import espeak, piper, whisper


def test_whisper_strings() -> None:
    tiny = resolve_model("local/whisper-tiny.en", slot="stt")
    assert isinstance(tiny, whisper.STT)
    assert tiny.model == "whisper-tiny.en"
    base = resolve_model("local/whisper-base", slot="stt")
    assert base.model == "whisper-base"
    assert base._language == "en"
    assert resolve_model("local/whisper-base:fr", slot="stt")._language == "fr"
    with pytest.raises(ValueError, match="only transcribes English"):
        resolve_model("local/whisper-tiny.en:de", slot="stt")


def test_tts_strings() -> None:
    assert isinstance(resolve_model("local/piper-joe", slot="tts"), piper.TTS)
    voice = resolve_model("local/espeak:en-gb", slot="tts")
    assert isinstance(voice, espeak.TTS)
    assert voice.model == "espeak-ng-en-gb"
    assert isinstance(resolve_model("local/espeak", slot="tts"), espeak.TTS)
    assert isinstance(resolve_model("local/default", slot="tts"), piper.TTS)


def test_local_default_tts_without_piper_is_espeak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)
    assert isinstance(resolve_model("local/default", slot="tts"), espeak.TTS)
    with pytest.raises(piper.PiperNotInstalledError, match=r"voxline\[piper\]"):
        resolve_model("local/piper-joe", slot="tts")


def test_unknown_local_speech_model_lists_the_known_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"local/whisper-tiny\.en, local/whisper-base"):
        resolve_model("local/whisper-large", slot="stt")
    with pytest.raises(UnknownModelError, match="local/piper-joe, local/espeak, local/default"):
        resolve_model("local/kokoro", slot="tts")
    with pytest.raises(UnknownModelError, match="has no variant"):
        resolve_model("local/piper-joe:fast", slot="tts")
