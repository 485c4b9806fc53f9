"""Resolves model strings like "openai/gpt-4.1-mini" or "local/whisper-tiny.en" in every model
slot. Providers register a factory per slot; an unknown string gets an error that lists them."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

ModelFactory = Callable[[str, str | None], Any]

# provider name -> module that registers it (imported lazily, so heavy extras stay optional)
_PROVIDER_MODULES: dict[str, str] = {
    "local": "voxline.plugins.local",
    "openai": "voxline.plugins.openai",
}


class UnknownModelError(ValueError):
    pass


def parse_model_string(value: str) -> tuple[str, str, str | None]:
    provider, sep, rest = value.partition("/")
    if not sep or not provider or not rest:
        raise UnknownModelError(f"model string {value!r} must look like 'provider/model[:variant]'")
    model, _, variant = rest.partition(":")
    return provider, model, variant or None


def resolve_model(value: str, *, slot: str) -> Any:
    provider, model, variant = parse_model_string(value)
    module_name = _PROVIDER_MODULES.get(provider)
    if module_name is None:
        known = ", ".join(sorted(_PROVIDER_MODULES)) or "none installed yet"
        raise UnknownModelError(
            f"unknown provider {provider!r} in {slot}={value!r}; known providers: {known}"
        )
    module = importlib.import_module(module_name)
    factory: Callable[..., Any] = module.create_model
    return factory(slot=slot, model=model, variant=variant)
