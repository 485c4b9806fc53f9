"""Two process-wide adjustments to aiortc 1.16 that have no public API.

- ICE host candidates on loopback. aioice gathers every interface address *except*
  127.0.0.1, so a server bound to 127.0.0.1 (embedded mode, tests, CI) would offer its
  LAN addresses and never its loopback one. When the server binds to loopback, only
  127.0.0.1 is offered.
- The audio receive jitter buffer. aiortc holds `prefetch=4` packets (4 x 20 ms = 80 ms)
  before decoding the first frame of an audio track; 1 (20 ms) suits a LAN or loopback,
  4 a lossy WAN.

Both patch module attributes, so they apply to every peer connection created afterwards in
the process: the documented exception to "no global state", applied idempotently.
"""

from __future__ import annotations

from typing import Any

_DEFAULT_AUDIO_PREFETCH = 4


class _Tuning:
    """The patched values, kept on one object instead of loose module globals."""

    audio_prefetch = _DEFAULT_AUDIO_PREFETCH
    installed_jitter = False
    loopback_only = False
    original_get_host_addresses: Any = None


def restrict_ice_to_loopback(enabled: bool = True) -> None:
    import aioice.ice

    if _Tuning.original_get_host_addresses is None:
        _Tuning.original_get_host_addresses = aioice.ice.get_host_addresses
    _Tuning.loopback_only = enabled

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if _Tuning.loopback_only:
            return ["127.0.0.1"] if use_ipv4 else ["::1"]
        addresses: list[str] = _Tuning.original_get_host_addresses(use_ipv4, use_ipv6)
        return addresses

    aioice.ice.get_host_addresses = get_host_addresses


def set_audio_prefetch(packets: int) -> None:
    """Packets (20 ms each) aiortc buffers before decoding received audio."""
    if not 0 <= packets <= 16:
        raise ValueError(f"audio prefetch must be 0..16 packets, got {packets}")
    _Tuning.audio_prefetch = packets
    if _Tuning.installed_jitter:
        return
    import aiortc.rtcrtpreceiver as receiver

    original = receiver.JitterBuffer  # type: ignore[attr-defined]

    def jitter_buffer(capacity: int, prefetch: int = 0, is_video: bool = False) -> Any:
        if not is_video:
            prefetch = _Tuning.audio_prefetch
        return original(capacity, prefetch, is_video)

    receiver.JitterBuffer = jitter_buffer  # type: ignore[attr-defined,assignment]
    _Tuning.installed_jitter = True


def audio_prefetch() -> int:
    return _Tuning.audio_prefetch
