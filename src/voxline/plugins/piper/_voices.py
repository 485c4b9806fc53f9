"""The Piper voices voxline can fetch, and what must be known about them before loading."""

from __future__ import annotations

from dataclasses import dataclass

from ...models import UnknownModelError
from .._files import ModelFile
from ..local_files import PIPER_JOE


@dataclass(frozen=True)
class VoiceSpec:
    name: str
    files: tuple[ModelFile, ...]
    """The .onnx model first, then its .onnx.json config."""
    sample_rate: int
    num_speakers: int


VOICES: dict[str, VoiceSpec] = {
    "en_US-joe-medium": VoiceSpec("en_US-joe-medium", PIPER_JOE, sample_rate=22050, num_speakers=1),
}


def voice_spec(voice: str) -> VoiceSpec:
    spec = VOICES.get(voice)
    if spec is None:
        raise UnknownModelError(
            f"unknown Piper voice {voice!r}; choose one of: {', '.join(sorted(VOICES))}"
        )
    return spec
