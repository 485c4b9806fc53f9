"""The Smart Turn v3.2 ONNX model, loaded once per process, run on one thread of its own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from .._files import ensure_file
from ..local_files import SMART_TURN_V3
from ._features import last_seconds, log_mel

__all__ = ["SmartTurnModel", "executor", "load_model"]


class SmartTurnModel:
    def __init__(self, session: Any) -> None:
        self._session = session

    def probability(self, audio: npt.NDArray[np.float32]) -> float:
        """P(the speaker finished their turn) for 16 kHz mono audio ending now."""
        features = log_mel(last_seconds(audio))[None, :, :]
        (out,) = self._session.run(None, {"input_features": features})
        return float(np.clip(out[0, 0], 0.0, 1.0))  # the graph ends in a sigmoid


_lock = threading.Lock()
_model: SmartTurnModel | None = None
_executor: ThreadPoolExecutor | None = None


def load_model(*, progress: bool = True) -> SmartTurnModel:
    """The process-wide model, fetched into the cache on first use (blocking)."""
    global _model
    with _lock:
        if _model is None:
            import onnxruntime as ort  # type: ignore[import-untyped, unused-ignore]

            path = ensure_file(SMART_TURN_V3, progress=progress)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.log_severity_level = 3
            session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            _model = SmartTurnModel(session)
        return _model


def executor() -> ThreadPoolExecutor:
    """One thread for every detector of the process: decisions queue, never oversubscribe."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxline-smart-turn")
        return _executor
