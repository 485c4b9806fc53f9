"""Short sentences kept rendered, shared by every TTS of the process that speaks with the same
voice and options (they hang off the loaded voice, which is itself shared): twenty sessions
render "Sure." once, not twenty times."""

from __future__ import annotations

import collections
import threading

import numpy as np
import numpy.typing as npt

PHRASE_CACHE_CHARS = 24
PHRASE_CACHE_SIZE = 64
"""Short sentences a voice agent says again and again ("Sure.", "Okay.") are kept rendered:
an opener then costs no synthesis at all, and it is the one sentence the user waits for."""


class PhraseCache:
    """Least recently used first; safe to use from the loop and from a prewarm thread."""

    def __init__(self) -> None:
        self._pcm: collections.OrderedDict[str, npt.NDArray[np.int16]] = collections.OrderedDict()
        self._lock = threading.Lock()
        # held while a prewarm renders, so concurrent prewarms render each phrase once
        self.warming = threading.Lock()

    def get(self, text: str) -> npt.NDArray[np.int16] | None:
        with self._lock:
            pcm = self._pcm.get(text)
            if pcm is not None:
                self._pcm.move_to_end(text)
            return pcm

    def put(self, text: str, pcm: npt.NDArray[np.int16]) -> None:
        if len(text) > PHRASE_CACHE_CHARS or not pcm.size:
            return
        with self._lock:
            self._pcm[text] = pcm
            self._pcm.move_to_end(text)
            while len(self._pcm) > PHRASE_CACHE_SIZE:
                self._pcm.popitem(last=False)

    def phrases(self) -> list[str]:
        with self._lock:
            return list(self._pcm)
