"""`python agent.py <command>`: the command line of a voxline agent.

```python
from voxline.cli import run_app
from voxline.worker import AgentServer

server = AgentServer()

@server.rtc_session
async def entrypoint(ctx):
    session = AgentSession(...)
    await session.start(MyAgent(), room=ctx.room)

if __name__ == "__main__":
    run_app(server)          # reads sys.argv
```

Commands (`--help` on each tells everything):

- `console [--text] [--input-wav IN.wav] [--output-wav OUT.wav] [--trailing-silence S]
  [--settle S] [--max-duration S] [--input-device D] [--output-device D] [--list-devices]`:
  talk to the agent locally. Microphone and speaker when `sounddevice` finds them, else text
  mode (said so on stderr); `--text` forces text mode; `--input-wav`/`--output-wav` use WAV
  files on one real-time timeline (see `voxline.console`).
- `dev [--reload/--no-reload] [--watch DIR]`: the server in development mode; with reload
  (the default) it runs in a child process restarted whenever a Python file changes.
- `start`: the server in production mode.
- `connect --room NAME [--participant-identity ID]`: one job in a named room, no dispatch.
- `download-files`: run the downloads plugins declared with `voxline.cli.downloads.register`
  (from an agent script), or fetch every local model voxline knows (without an agent).

Every command takes `--log-level DEBUG|INFO|WARNING|ERROR|CRITICAL`.

The server interface the CLI relies on
======================================

Only this, so the CLI does not depend on how the server dispatches jobs
(`AgentServerLike` is the same as a `typing.Protocol`):

``server.entrypoint``
    The coroutine function registered with ``@server.rtc_session``, or ``None``. Every
    command but ``download-files`` refuses to run without one (exit code 2).

``async server.run(*, devmode: bool) -> None``
    Register with the dispatcher and run jobs until stopped. ``dev`` calls it with
    ``devmode=True`` (in the reloaded child process, which has ``VOXLINE_DEV_CHILD=1`` in its
    environment), ``start`` with ``devmode=False``. Ctrl+C cancels it: it must clean up on
    ``CancelledError``.

``async server.simulate_job(room_name: str, *, console_io: ConsoleIO | None = None,
participant_identity: str | None = None) -> None``
    Run one job of ``entrypoint`` without dispatch, **in the calling process and event
    loop** (console I/O objects belong to that loop), and return when the job has ended.

    - ``console`` calls ``simulate_job("console-room", console_io=io)``. The job needs no
      room: the server runs ``entrypoint`` with a job context whose room is a stand-in, with
      ``voxline.console.use_console_io(console_io)`` active around it (the CLI sets it too, so
      tasks created in the calling context see it either way). The session the entrypoint
      starts attaches to the console I/O in ``AgentSession.start()`` (see below) instead of
      the room. When the conversation is over (WAV/piped input ended and the agent has been
      quiet, the session closed itself, ``--max-duration``, Ctrl+C), the CLI closes the
      attached session with ``session.aclose()``; the job should then end (run its shutdown
      callbacks) and ``simulate_job`` return. If it has not returned 5 s later, the CLI
      cancels it, so it must also clean up on ``CancelledError``.
    - ``connect`` calls ``simulate_job(room, console_io=None,
      participant_identity=identity_or_None)``: a real job in the named room, ended by Ctrl+C
      (cancellation) or by the job itself.

What ``AgentSession.start()`` does with the console I/O
-------------------------------------------------------

``voxline.console.current_console_io()`` returns the ``ConsoleIO`` of the job being run, or
``None``. When it returns one, ``start()`` calls ``console_io.attach(self)`` *instead of*
creating a RoomIO, even when ``room=ctx.room`` was passed (agent code is written for rooms and
must run unchanged in the console; the console job's ``ctx.room`` is a stand-in), and it does
so before its lifecycle leaves ``"initializing"``, so that filling the input slot does not
start an audio forwarding task that ``start()`` then restarts. ``attach`` sets
``session.input.audio``, ``session.output.audio`` and ``session.output.transcription`` from
the console (slots the console leaves empty are not touched), subscribes the view to the
session's events and starts feeding typed lines to ``generate_reply(user_input=...)``.
Attaching the same session twice is a no-op; attaching a second session while the first is
still open raises ``RuntimeError``.
"""

from . import downloads
from ._app import CONSOLE_ROOM, app, run_app, run_async
from ._reload import CHILD_ENV, run_with_reload
from ._server import AgentServerLike

__all__ = [
    "CHILD_ENV",
    "CONSOLE_ROOM",
    "AgentServerLike",
    "app",
    "downloads",
    "run_app",
    "run_async",
    "run_with_reload",
]
