"""The Silero VAD ONNX graph, loaded once per process and shared by every stream.

The graph is recurrent: each stream keeps its own state and context, the session (weights,
kernels) is shared. Inference runs on one worker thread of its own, so the event loop never
waits for it and 1 intra-op thread keeps the VAD at one core at most whatever the number of
sessions (a per-process cache, as allowed by DESIGN: models load once per process).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._files import ensure_file
from ..local_files import SILERO_VAD

__all__ = ["SileroModel", "StreamState", "executor", "load_model"]

SUPPORTED_RATES = (8000, 16000)


def window_size(sample_rate: int) -> int:
    """Samples per inference window: 32 ms (what the model was trained on)."""
    return 512 if sample_rate == 16000 else 256


def context_size(sample_rate: int) -> int:
    """Samples of the previous window the graph expects in front of each window."""
    return 64 if sample_rate == 16000 else 32


@dataclass
class StreamState:
    """Per-stream recurrent state of the graph."""

    sample_rate: int
    state: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((2, 1, 128), dtype=np.float32)
    )
    context: npt.NDArray[np.float32] = field(init=False)

    def __post_init__(self) -> None:
        self.context = np.zeros((1, context_size(self.sample_rate)), dtype=np.float32)


class SileroModel:
    def __init__(self, session: Any, path: Path) -> None:
        self._session = session
        self.path = path

    def run(self, stream: StreamState, windows: npt.NDArray[np.float32]) -> list[float]:
        """Speech probability of each consecutive window (rows of `windows`), advancing the
        stream's state. Called on the inference thread."""
        sr = np.array(stream.sample_rate, dtype=np.int64)
        probabilities: list[float] = []
        for window in windows:
            x = np.concatenate([stream.context, window[None, :]], axis=1)
            out, stream.state = self._session.run(
                None, {"input": x, "state": stream.state, "sr": sr}
            )
            stream.context = x[:, -stream.context.shape[1] :]
            probabilities.append(float(out[0, 0]))
        return probabilities


_lock = threading.Lock()
_models: dict[bool, SileroModel] = {}
_executor: ThreadPoolExecutor | None = None


def load_model(*, force_cpu: bool = True, progress: bool = True) -> SileroModel:
    """The shared model (fetched on first use; blocking)."""
    with _lock:
        model = _models.get(force_cpu)
        if model is not None:
            return model
        import onnxruntime as ort  # type: ignore[import-untyped, unused-ignore]

        path = ensure_file(SILERO_VAD, progress=progress)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        providers = ["CPUExecutionProvider"] if force_cpu else ort.get_available_providers()
        session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        model = _models[force_cpu] = SileroModel(session, path)
        return model


def executor() -> ThreadPoolExecutor:
    """The one thread every Silero stream of the process runs its inference on."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxline-silero")
        return _executor
