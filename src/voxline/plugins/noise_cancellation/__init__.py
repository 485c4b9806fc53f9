"""Noise cancellation for inbound audio: ``NC()`` for microphones, ``Telephony()`` for calls.

Pass one to ``room_io.AudioInputOptions(noise_cancellation=...)``, or a selector that picks
one per participant::

    noise_cancellation=lambda params: (
        noise_cancellation.Telephony()
        if params.participant.kind == rtc.ParticipantKind.SIP
        else noise_cancellation.NC()
    )

``BVC`` and ``BVCTelephony`` are the same processors under the names used by code written for
LiveKit Cloud's models, so that code runs unchanged; they suppress noise, they do not remove
other voices. Needs the ``noise`` extra (``webrtc-noise-gain``).
"""

from __future__ import annotations

from ._suppressor import NoiseSuppressor

__all__ = ["BVC", "NC", "BVCTelephony", "NoiseSuppressor", "Telephony"]


class NC(NoiseSuppressor):
    """General-purpose suppression for microphones and browser audio."""

    def __init__(self, *, suppression_level: int = 3, auto_gain_dbfs: int = 0) -> None:
        super().__init__(
            suppression_level=suppression_level, auto_gain_dbfs=auto_gain_dbfs, telephony=False
        )


class Telephony(NoiseSuppressor):
    """Tuned for phone callers (SIP): telephone band only, stronger suppression, and gain
    control, because line levels vary widely between carriers and handsets."""

    def __init__(self, *, suppression_level: int = 4, auto_gain_dbfs: int = 3) -> None:
        super().__init__(
            suppression_level=suppression_level, auto_gain_dbfs=auto_gain_dbfs, telephony=True
        )


BVC = NC
BVCTelephony = Telephony
