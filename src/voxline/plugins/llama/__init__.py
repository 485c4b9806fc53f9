"""Local chat models through llama.cpp (the `xllamacpp` package, in the `local` extra).

`LLM()` runs Qwen2.5-Coder 0.5B Instruct (Q4_K_M) on the CPU; `LLM(model="qwen2.5-1.5b")`
the 1.5B. The GGUF files come from PyPI packages, verified by sha256 and cached (see
`voxline.plugins.local_files`). Model strings: `local/qwen2.5-0.5b`, `local/qwen2.5-1.5b`.
"""

from .._files import register_download
from ._models import DEFAULT_MODEL, MODELS
from ._server import ServerParams, load_server, loaded_servers
from .llm import LLM, LLMStream

__all__ = [
    "DEFAULT_MODEL",
    "LLM",
    "MODELS",
    "LLMStream",
    "ServerParams",
    "load_server",
    "loaded_servers",
]

# `download-files` from an agent script that imports this plugin fetches the default model
register_download(f"local/{DEFAULT_MODEL}", (MODELS[DEFAULT_MODEL],))
