"""A setup_fnc that records which modules a fresh job process already has, before its
first job. It imports nothing itself, so what it sees is what the pool preloaded."""

from __future__ import annotations

import sys
from typing import Any

# what the first job of a process would otherwise import on its critical path: decoding
# the job (the protocol messages) and AgentSession.start() (the console hook)
JOB_PATH_MODULES = ("livekit.protocol.agent", "voxline.console")


def record_modules(proc: Any) -> None:
    proc.userdata["preloaded"] = {name: name in sys.modules for name in JOB_PATH_MODULES}
