"""A video frame as an RGB numpy array: what transports decode to and what images encode from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class VideoFrame:
    data: NDArray[np.uint8]
    """Height x width x 3, RGB."""
    timestamp: float = 0.0
    userdata: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.data.dtype != np.uint8 or self.data.ndim != 3 or self.data.shape[2] != 3:
            raise ValueError(
                f"VideoFrame needs a uint8 array of shape (height, width, 3), got "
                f"{self.data.dtype} {self.data.shape}"
            )

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def height(self) -> int:
        return int(self.data.shape[0])
