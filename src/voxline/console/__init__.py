"""Console I/O: talk to an agent from this machine, without a room or a server.

- `WavAudioInput` / `WavAudioOutput`: a WAV file as the microphone and a WAV file as the
  speaker, both in real time on the loop clock, on one shared timeline, so OUT.wav can be
  listened to next to IN.wav (`voxline console --input-wav IN.wav --output-wav OUT.wav`).
- `SoundDeviceAudioInput` / `SoundDeviceAudioOutput`: the local microphone and speaker
  (optional `sounddevice` package); `has_sound_device()` says whether there are any.
- `TextConsole`, `ConsoleTextOutput`, `stdin_lines`: typed text in, transcript out (`--text`).
- `ConsoleView`: a live `rich` view of states, input level and transcripts (plain lines when
  stdout is not a terminal).
- `ConsoleIO` and `current_console_io()`: the bundle the CLI hands to a console job, which
  `AgentSession.start()` attaches instead of a room.

Heavy optional packages (`rich`, `sounddevice`) are imported only when used.
"""

from ._context import current_console_io, use_console_io
from ._io import ConsoleIO
from ._sounddevice import (
    SoundDeviceAudioInput,
    SoundDeviceAudioOutput,
    SoundDeviceUnavailableError,
    describe_sound_devices,
    has_sound_device,
    sound_device_problem,
)
from ._text import ConsoleTextOutput, TextConsole, stdin_lines
from ._view import ConsoleView
from ._wav import PlayedSegment, WavAudioInput, WavAudioOutput

__all__ = [
    "ConsoleIO",
    "ConsoleTextOutput",
    "ConsoleView",
    "PlayedSegment",
    "SoundDeviceAudioInput",
    "SoundDeviceAudioOutput",
    "SoundDeviceUnavailableError",
    "TextConsole",
    "WavAudioInput",
    "WavAudioOutput",
    "current_console_io",
    "describe_sound_devices",
    "has_sound_device",
    "sound_device_problem",
    "stdin_lines",
    "use_console_io",
]
