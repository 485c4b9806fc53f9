"""The Whisper models voxline can run offline, and the cached files each one is made of."""

from __future__ import annotations

from dataclasses import dataclass

from ...models import UnknownModelError
from .._files import ModelFile
from ..local_files import WHISPER_BASE, WHISPER_TINY_EN


@dataclass(frozen=True)
class WhisperSpec:
    name: str
    files: tuple[ModelFile, ...]
    english_only: bool
    """`.en` models have no language token to predict: detection is off, only "en" is valid."""


MODELS: dict[str, WhisperSpec] = {
    "tiny.en": WhisperSpec("tiny.en", WHISPER_TINY_EN, english_only=True),
    # the multilingual base model: the packages on PyPI carry "base", not "base.en"
    "base": WhisperSpec("base", WHISPER_BASE, english_only=False),
}


def whisper_spec(model: str) -> WhisperSpec:
    spec = MODELS.get(model)
    if spec is None:
        raise UnknownModelError(
            f"unknown Whisper model {model!r}; choose one of: {', '.join(sorted(MODELS))}"
        )
    return spec
