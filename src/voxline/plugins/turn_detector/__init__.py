"""Audio end-of-turn detection with Smart Turn v3.2 (BSD-2-Clause), on onnxruntime.

```python
from voxline.plugins.turn_detector import SmartTurn

session = AgentSession(turn_detection=SmartTurn(), ...)   # or turn_detection="local/smart-turn"
```

The model file comes from the `pipecat-ai` wheel on PyPI (only that file is extracted; the
package is neither installed nor imported), fetched into the voxline cache on first use or by
`voxline download-files`. The log-mel front end is voxline's own numpy code.
"""

import importlib.util

if importlib.util.find_spec("onnxruntime") is None:
    raise ImportError(
        "voxline.plugins.turn_detector needs onnxruntime: pip install 'voxline[local]'"
    )

from .._files import register_download
from ..local_files import SMART_TURN
from .smart_turn import SmartTurn, TurnDetectorError

__all__ = ["SmartTurn", "TurnDetectorError"]

register_download("local/smart-turn", SMART_TURN)
