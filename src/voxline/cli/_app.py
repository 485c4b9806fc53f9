"""The `typer` commands behind `python agent.py <command>` (see `voxline.cli`)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import sys
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TextIO, TypeVar, cast

import typer
from rich.console import Console

from ..console import (
    ConsoleIO,
    ConsoleTextOutput,
    ConsoleView,
    SoundDeviceAudioInput,
    SoundDeviceAudioOutput,
    WavAudioInput,
    WavAudioOutput,
    describe_sound_devices,
    sound_device_problem,
    stdin_lines,
    use_console_io,
)
from ..voice.io import AudioInput, AudioOutput
from . import downloads
from ._reload import CHILD_ENV, child_command, run_with_reload
from ._server import AgentServerLike

__all__ = ["CONSOLE_ROOM", "app", "run_app", "run_async"]

logger = logging.getLogger("voxline.cli")

T = TypeVar("T")

CONSOLE_ROOM = "console-room"
"""Room name of the job `console` simulates."""

_JOB_GRACE = 5.0  # seconds a job gets to end by itself once its session is closed


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """How commands run their coroutine; tests replace it with `voxline.testing.run` to run
    a whole console conversation on the virtual clock."""
    return asyncio.run(main)


class LogLevel(str, enum.Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


app = typer.Typer(
    name="voxline",
    help="Run a voxline agent: talk to it locally (console), develop it with hot reload "
    "(dev), run it in production (start), or send it into a room (connect).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain click help: complete at any terminal width (rich panels truncate long options)
    rich_markup_mode=None,
)


LogLevelOption = Annotated[
    LogLevel,
    typer.Option(
        "--log-level",
        case_sensitive=False,
        help="Logging threshold for voxline and your agent's loggers.",
    ),
]


@contextlib.contextmanager
def _logging(level: LogLevel) -> Iterator[None]:
    """Log at `level` for the duration of a command, then restore logging (the CLI may run
    inside a larger program or a test runner). Records go to stderr unless the program
    already configured a handler, which then receives them instead (no duplicate lines)."""
    root = logging.getLogger()
    handler: logging.Handler | None = None
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        root.addHandler(handler)
    previous = root.level
    root.setLevel(level.value)
    try:
        yield
    finally:
        if handler is not None:
            root.removeHandler(handler)
        root.setLevel(previous)


def _server(ctx: typer.Context) -> AgentServerLike:
    server = ctx.obj
    if server is None:
        typer.echo(
            "error: no agent server; start the CLI from your agent script with "
            "voxline.cli.run_app(server)",
            err=True,
        )
        raise typer.Exit(2)
    if getattr(server, "entrypoint", None) is None:
        typer.echo(
            "error: the server has no entrypoint; register one with @server.rtc_session",
            err=True,
        )
        raise typer.Exit(2)
    return cast(AgentServerLike, server)


def _run_interruptible(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; Ctrl+C cancels it (its cleanup runs) and exits with 130."""
    try:
        return run_async(main)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


# ============================================================================ console


@dataclass
class _ConsoleOptions:
    text: bool
    input_wav: Path | None
    output_wav: Path | None
    trailing_silence: float
    settle: float
    max_duration: float | None
    input_device: str | None
    output_device: str | None


def _device(value: str | None) -> int | str | None:
    """sounddevice takes an index or a (partial) device name."""
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def _build_console_io(opts: _ConsoleOptions, out: TextIO) -> ConsoleIO:
    """Choose the console's I/O from the options and what this machine has."""
    if opts.input_wav is not None or opts.output_wav is not None:
        audio_in: AudioInput | None = None
        if opts.input_wav is not None:
            audio_in = WavAudioInput(opts.input_wav, trailing_silence=opts.trailing_silence)
        audio_out: AudioOutput
        if opts.output_wav is not None:
            audio_out = WavAudioOutput(opts.output_wav)
        elif sound_device_problem("output") is None:
            audio_out = SoundDeviceAudioOutput(device=_device(opts.output_device))
        else:
            _note("no --output-wav and no speaker: the agent's audio is played silently")
            audio_out = WavAudioOutput(None)
        if isinstance(audio_in, WavAudioInput) and isinstance(audio_out, WavAudioOutput):
            audio_out.sync_to(audio_in)
        if audio_in is None:
            # recording the agent while the user types
            _note("no --input-wav: type your messages (end with Ctrl+D)")
            return ConsoleIO(
                audio_output=audio_out,
                text_input=stdin_lines(),
                text_output=ConsoleTextOutput(out),
            )
        view = ConsoleView(_rich_console(out))
        return ConsoleIO(
            audio_input=audio_in,
            audio_output=audio_out,
            text_output=view.text_output(),
            view=view,
        )
    if not opts.text:
        problem = sound_device_problem("duplex")
        if problem is None:
            view = ConsoleView(_rich_console(out))
            return ConsoleIO(
                audio_input=SoundDeviceAudioInput(device=_device(opts.input_device)),
                audio_output=SoundDeviceAudioOutput(device=_device(opts.output_device)),
                text_output=view.text_output(),
                view=view,
            )
        _note(f"no sound device available ({problem}); falling back to text mode (--text)")
    _note("text mode: type a message and press Enter (Ctrl+D to quit)")
    return ConsoleIO(text_input=stdin_lines(), text_output=ConsoleTextOutput(out))


def _rich_console(out: TextIO) -> Console:
    return Console(file=out)


def _note(message: str) -> None:
    """Console notices go to stderr, so stdout carries only the conversation."""
    typer.echo(message, err=True)


async def _console_main(server: AgentServerLike, opts: _ConsoleOptions, out: TextIO) -> int:
    """Run one simulated job on console I/O until the conversation is over.

    Over means: the WAV file or the typed lines ended and the agent has been quiet for
    `settle` seconds, or the session closed, or `max_duration` passed, or Ctrl+C. Then the
    session is closed, the job gets a few seconds to end, and the I/O is closed (which
    completes OUT.wav).
    """
    io = _build_console_io(opts, out)
    loop = asyncio.get_running_loop()
    deadline = None if opts.max_duration is None else loop.time() + opts.max_duration
    with use_console_io(io):
        job: asyncio.Task[None] = loop.create_task(
            server.simulate_job(CONSOLE_ROOM, console_io=io), name="console_job"
        )
    finished = loop.create_task(io.wait_finished(opts.settle), name="console_finished")
    closed = loop.create_task(io.wait_session_closed(), name="console_session_closed")
    try:

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - loop.time())

        done, _ = await asyncio.wait(
            {job, finished, closed}, timeout=remaining(), return_when=asyncio.FIRST_COMPLETED
        )
        job_ok = job in done and not job.cancelled() and job.exception() is None
        if job_ok and not done & {finished, closed}:
            # the entrypoint returned, but its session is still talking: like a LiveKit job,
            # the console stays until the conversation is over
            session = io.session
            if session is not None and session.lifecycle != "closed":
                await asyncio.wait(
                    {finished, closed}, timeout=remaining(), return_when=asyncio.FIRST_COMPLETED
                )
    finally:
        for task in (finished, closed):
            task.cancel()
        await asyncio.gather(finished, closed, return_exceptions=True)
        await io.close_session()
        if not job.done():
            await asyncio.wait({job}, timeout=_JOB_GRACE)
        if not job.done():
            logger.warning(
                "the console job did not end %.0f s after its session closed", _JOB_GRACE
            )
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)
        await io.aclose()
    if not job.cancelled() and job.exception() is not None:
        error = job.exception()
        typer.echo(f"error: the job failed: {type(error).__name__}: {error}", err=True)
        return 1
    return 0


@app.command()
def console(
    ctx: typer.Context,
    text: Annotated[
        bool,
        typer.Option(
            "--text",
            help="Talk by typing: each line you type is a user turn, the agent's answer is "
            "printed. Used automatically when there is no sound device.",
        ),
    ] = False,
    input_wav: Annotated[
        Path | None,
        typer.Option(
            "--input-wav",
            metavar="IN.wav",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Play this WAV file (any rate and channel count) as your microphone, in real "
            "time, followed by --trailing-silence seconds of silence; the console ends once "
            "it was played and the agent finished answering.",
        ),
    ] = None,
    output_wav: Annotated[
        Path | None,
        typer.Option(
            "--output-wav",
            metavar="OUT.wav",
            dir_okay=False,
            help="Write what the agent said to this WAV file (24 kHz mono), at the moment it "
            "said it, with silence in between: with --input-wav, second t of both files is the "
            "same moment. An interrupted answer is cut where it was interrupted.",
        ),
    ] = None,
    trailing_silence: Annotated[
        float,
        typer.Option(
            "--trailing-silence",
            metavar="SECONDS",
            min=0.0,
            help="Seconds of silence sent after --input-wav, so the end of your last turn is "
            "detected.",
        ),
    ] = 2.0,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            metavar="SECONDS",
            min=0.0,
            help="With a WAV file or piped text: seconds of quiet after the input ended before "
            "the console quits.",
        ),
    ] = 0.5,
    max_duration: Annotated[
        float | None,
        typer.Option(
            "--max-duration",
            metavar="SECONDS",
            min=0.0,
            help="Quit after this many seconds whatever happens (for scripted runs).",
        ),
    ] = None,
    input_device: Annotated[
        str | None,
        typer.Option(
            "--input-device", metavar="DEVICE", help="Microphone: a sounddevice index or name."
        ),
    ] = None,
    output_device: Annotated[
        str | None,
        typer.Option(
            "--output-device", metavar="DEVICE", help="Speaker: a sounddevice index or name."
        ),
    ] = None,
    list_devices: Annotated[
        bool,
        typer.Option("--list-devices", help="List the sound devices and exit."),
    ] = False,
    log_level: LogLevelOption = LogLevel.WARNING,
) -> None:
    """Talk to your agent from this terminal: microphone and speaker, typed text, or WAV
    files. Runs one simulated job in this process; no server or room is needed."""
    if list_devices:
        _list_devices()
        return
    if text and input_wav is not None:
        typer.echo("error: --text and --input-wav cannot be combined", err=True)
        raise typer.Exit(2)
    server = _server(ctx)
    opts = _ConsoleOptions(
        text=text,
        input_wav=input_wav,
        output_wav=output_wav,
        trailing_silence=trailing_silence,
        settle=settle,
        max_duration=max_duration,
        input_device=input_device,
        output_device=output_device,
    )
    with _logging(log_level):
        code = _run_interruptible(_console_main(server, opts, sys.stdout))
    if code:
        raise typer.Exit(code)


def _list_devices() -> None:
    typer.echo(describe_sound_devices())


# ============================================================================ dev / start


def _default_watch_dir() -> Path:
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.is_file():
        return script.resolve().parent
    return Path.cwd()


@app.command()
def dev(
    ctx: typer.Context,
    reload: Annotated[
        bool,
        typer.Option(
            "--reload/--no-reload",
            help="Restart the agent whenever a Python file in the watched folders changes.",
        ),
    ] = True,
    watch: Annotated[
        list[Path] | None,
        typer.Option(
            "--watch",
            metavar="DIR",
            exists=True,
            file_okay=False,
            help="Folder to watch for --reload (repeatable; default: the folder of your "
            "agent script).",
        ),
    ] = None,
    log_level: LogLevelOption = LogLevel.DEBUG,
) -> None:
    """Run the agent server in development mode, restarting it when your code changes."""
    server = _server(ctx)
    with _logging(log_level):
        if reload and os.environ.get(CHILD_ENV) != "1":
            paths = list(watch or [_default_watch_dir()])
            typer.echo(f"watching {', '.join(map(str, paths))} for changes", err=True)
            env = {**os.environ, CHILD_ENV: "1"}
            _run_interruptible(run_with_reload(child_command(), paths, env=env))
            return
        _run_interruptible(server.run(devmode=True))


@app.command()
def start(ctx: typer.Context, log_level: LogLevelOption = LogLevel.INFO) -> None:
    """Run the agent server in production mode (no reload). Connection settings come from
    the environment, as the server reads them."""
    server = _server(ctx)
    with _logging(log_level):
        _run_interruptible(server.run(devmode=False))


@app.command()
def connect(
    ctx: typer.Context,
    room: Annotated[
        str,
        typer.Option(
            "--room", metavar="NAME", help="Name of the room the agent joins (no dispatch needed)."
        ),
    ],
    participant_identity: Annotated[
        str | None,
        typer.Option(
            "--participant-identity",
            metavar="ID",
            help="Identity of the participant the agent talks to (default: the first one who "
            "joins).",
        ),
    ] = None,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Run one job of the agent directly in a named room, without waiting for a dispatch."""
    server = _server(ctx)
    with _logging(log_level):
        _run_interruptible(
            server.simulate_job(room, console_io=None, participant_identity=participant_identity)
        )


# ============================================================================ playground


@app.command()
def playground(
    ctx: typer.Context,
    port: Annotated[
        int,
        typer.Option("--port", help="Port of the embedded server on 127.0.0.1 (0: any free one)."),
    ] = 7880,
    room: Annotated[
        str | None,
        typer.Option("--room", metavar="NAME", help="Room name (default: a new random one)."),
    ] = None,
    identity: Annotated[
        str, typer.Option("--identity", help="Your participant identity on the page.")
    ] = "playground-user",
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Talk to the agent from your browser: start the embedded room server on 127.0.0.1, run
    the agent against it (as `dev --no-reload`), dispatch it into a room and print the URL
    of the playground page. Ctrl+C stops everything."""
    from ._playground import PlaygroundError, PlaygroundOptions, run_playground

    _server(ctx)
    options = PlaygroundOptions(port=port, room=room, identity=identity, log_level=log_level.value)

    def announce(url: str) -> None:
        typer.echo(f"Playground ready; open this URL in your browser:\n{url}")

    with _logging(log_level):
        try:
            _run_interruptible(run_playground(options, announce=announce))
        except PlaygroundError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
        except asyncio.CancelledError:
            typer.echo("terminated", err=True)
            raise typer.Exit(143) from None


# ============================================================================ download-files


@app.command("download-files")
def download_files(
    ctx: typer.Context,
    all_models: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Without an agent: also the larger optional models (Whisper base, Qwen 1.5B).",
        ),
    ] = False,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Download the model files ahead of the first call, so an image can bake them in. From
    an agent script (`python agent.py download-files`) it fetches what the plugins the agent
    imported have registered; without an agent (`voxline download-files`) it fetches every
    default local model (VAD, end of turn, STT, LLM, TTS; `--all` adds the larger optional
    ones). Files already in the cache
    and intact are kept; missing or corrupt ones are fetched with progress on stderr."""
    if ctx.obj is None:
        from ..plugins import local_files

        local_files.register_all(include_optional=all_models)
    if not downloads.registered():
        typer.echo("Nothing to download: no plugin has registered model files.")
        return
    with _logging(log_level):

        def started(name: str) -> None:
            typer.echo(f"downloading {name} ...")

        def done(result: downloads.DownloadResult) -> None:
            if result.ok:
                typer.echo(f"  {result.name}: done")
            else:
                err = result.error
                typer.echo(f"  {result.name}: FAILED ({type(err).__name__}: {err})", err=True)

        results = _run_interruptible(downloads.download_all(on_start=started, on_done=done))
    failed = [r.name for r in results if not r.ok]
    if failed:
        typer.echo(f"{len(failed)} download(s) failed: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"all {len(results)} download(s) done")


# ============================================================================ entry


def run_app(
    server: AgentServerLike,
    *,
    argv: Sequence[str] | None = None,
    prog_name: str | None = None,
) -> None:
    """Run the CLI for `server` with `sys.argv` (or `argv`): `python agent.py console`.
    Like any click program it ends by raising `SystemExit` with the command's exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = prog_name or (Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "voxline")
    app(args=args, prog_name=name, obj=server)
