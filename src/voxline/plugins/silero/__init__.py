"""Silero voice activity detection (MIT), on onnxruntime: no torch, no network at run time.

```python
from voxline.plugins import silero

vad = silero.VAD.load(min_silence_duration=0.4)   # once per process, e.g. in prewarm
session = AgentSession(vad=vad, ...)
```

The model file comes from the `silero-vad` wheel on PyPI (fetched by pip into the voxline
cache on first use, or ahead of time by `voxline download-files`). A session that has audio
input and no `vad=` loads this VAD by itself when onnxruntime is installed.
"""

import importlib.util

if importlib.util.find_spec("onnxruntime") is None:
    raise ImportError("voxline.plugins.silero needs onnxruntime: pip install 'voxline[local]'")

from .._files import register_download
from ..local_files import SILERO
from ._tracker import VADOptions
from .vad import VAD, VADStream

__all__ = ["VAD", "VADOptions", "VADStream"]

register_download("local/silero", SILERO)
