"""The other commands: dev, start, connect, download-files, run_app, and the help texts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import voxline.cli
from console.helpers import FakeServer
from voxline.cli import CHILD_ENV, AgentServerLike, _app, app, downloads, run_app
from voxline.testing import FakeActions

COMMANDS = ["console", "dev", "start", "connect", "download-files"]


def _invoke(server: Any, *args: str, **kwargs: Any) -> Result:
    return CliRunner().invoke(app, list(args), obj=server, **kwargs)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(FakeActions())


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    fresh: dict[str, Any] = {}
    monkeypatch.setattr(downloads, "_registry", fresh)
    return fresh


def test_the_fake_server_has_the_interface_the_cli_documents(server: FakeServer) -> None:
    assert isinstance(server, AgentServerLike)
    doc = voxline.cli.__doc__ or ""
    for member in (
        "``server.entrypoint``",
        "``async server.run(*, devmode: bool) -> None``",
        "``async server.simulate_job(room_name: str, *, console_io: ConsoleIO | None = None,",
        "console_io.attach(self)",
    ):
        assert member in doc


def test_help_lists_every_command_and_each_command_documents_its_options() -> None:
    result = _invoke(None, "--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
    expected = {
        "console": ["--text", "--input-wav", "--output-wav", "--trailing-silence", "--settle"],
        "dev": ["--reload", "--no-reload", "--watch"],
        "start": [],
        "connect": ["--room", "--participant-identity"],
        "download-files": [],
    }
    for command, options in expected.items():
        result = _invoke(None, command, "--help")
        assert result.exit_code == 0, command
        text = " ".join(result.output.split())
        for option in [*options, "--log-level"]:
            assert option in text, (command, option)
        assert len(text) > 200  # a description, not just a usage line


def test_no_arguments_shows_the_help() -> None:
    result = _invoke(None)
    assert result.exit_code == 2 and "Usage" in result.output


@pytest.mark.parametrize("command", ["console", "dev", "start"])
def test_server_commands_need_a_server_with_an_entrypoint(command: str) -> None:
    result = _invoke(None, command)
    assert result.exit_code == 2 and "run_app(server)" in result.stderr
    server = FakeServer(FakeActions())
    server.entrypoint = None
    result = _invoke(server, command)
    assert result.exit_code == 2 and "@server.rtc_session" in result.stderr


def test_start_runs_the_server_in_production_mode(server: FakeServer) -> None:
    result = _invoke(server, "start", "--log-level", "error")
    assert result.exit_code == 0, result.output
    assert server.run_calls == [False]


def test_dev_without_reload_runs_the_server_in_dev_mode(server: FakeServer) -> None:
    assert _invoke(server, "dev", "--no-reload").exit_code == 0
    assert _invoke(server, "dev", env={CHILD_ENV: "1"}).exit_code == 0  # the reloaded child
    assert server.run_calls == [True, True]


def test_dev_with_reload_runs_a_watched_child(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[list[str], list[Any], dict[str, str]]] = []

    async def fake_reload(cmd: list[str], paths: list[Any], *, env: dict[str, str]) -> int:
        calls.append((cmd, paths, env))
        return 0

    monkeypatch.setattr(_app, "run_with_reload", fake_reload)
    monkeypatch.delenv(CHILD_ENV, raising=False)
    result = _invoke(server, "dev", "--watch", str(tmp_path))
    assert result.exit_code == 0, result.output
    [(cmd, paths, env)] = calls
    assert cmd[0] == sys.executable and cmd[1:] == sys.orig_argv[1:]
    assert paths == [tmp_path] and env[CHILD_ENV] == "1"
    assert server.run_calls == []  # the parent only watches
    assert f"watching {tmp_path}" in result.stderr


def test_connect_runs_one_job_in_the_named_room(server: FakeServer) -> None:
    result = _invoke(server, "connect", "--room", "my-room", "--participant-identity", "alice")
    assert result.exit_code == 0, result.output
    assert server.jobs == [("my-room", None, "alice")]
    assert server.context_io == [None]
    result = _invoke(server, "connect")
    assert result.exit_code == 2 and "--room" in result.output


def test_ctrl_c_exits_130(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(main: Any) -> None:
        main.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(_app, "run_async", interrupted)
    result = _invoke(server, "start")
    assert result.exit_code == 130 and "interrupted" in result.stderr


def test_log_level_is_case_insensitive_and_restored(server: FakeServer) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    assert _invoke(server, "start", "--log-level", "debug").exit_code == 0
    assert root.handlers == handlers and root.level == level
    result = _invoke(server, "start", "--log-level", "loud")
    assert result.exit_code == 2


def test_download_files_with_nothing_registered(
    registry: dict[str, Any], server: FakeServer
) -> None:
    result = _invoke(server, "download-files")
    assert result.exit_code == 0
    assert "Nothing to download" in result.stdout


def test_download_files_runs_every_registered_download(
    registry: dict[str, Any], server: FakeServer
) -> None:
    ran: list[str] = []

    def sync_download() -> None:
        ran.append("sync")

    async def async_download() -> None:
        ran.append("async")

    def broken() -> None:
        raise OSError("no network")

    downloads.register("plugin-a/model", sync_download)
    downloads.register("plugin-b/broken", broken)
    downloads.register("plugin-c/weights", async_download)
    downloads.register("plugin-a/model", sync_download)  # re-registering replaces
    assert list(downloads.registered()) == ["plugin-a/model", "plugin-b/broken", "plugin-c/weights"]

    result = _invoke(server, "download-files")
    assert result.exit_code == 1
    assert ran == ["sync", "async"]  # the failure does not stop the others
    assert "downloading plugin-a/model ..." in result.stdout
    assert "plugin-b/broken: FAILED (OSError: no network)" in result.stderr
    assert "1 download(s) failed: plugin-b/broken" in result.stderr

    downloads.unregister("plugin-b/broken")
    result = _invoke(server, "download-files")
    assert result.exit_code == 0 and "all 2 download(s) done" in result.stdout


def test_register_validates(registry: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        downloads.register("", lambda: None)
    with pytest.raises(TypeError):
        downloads.register("x", "not callable")  # type: ignore[arg-type]


def test_run_app_reads_sys_argv(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["agent.py", "start"])
    with pytest.raises(SystemExit) as exit_info:
        run_app(server)
    assert exit_info.value.code == 0
    assert server.run_calls == [False]

    with pytest.raises(SystemExit) as exit_info:
        run_app(server, argv=["connect", "--room", "r1"])
    assert exit_info.value.code == 0
    assert server.jobs == [("r1", None, None)]


def test_run_app_help_uses_the_script_name(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["my_agent.py", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        run_app(server)
    assert exit_info.value.code == 0
    assert "my_agent.py" in capsys.readouterr().out


class _LoggingServer(FakeServer):
    async def run(self, *, devmode: bool) -> None:
        logging.getLogger("voxline.test").info("serving (devmode=%s)", devmode)
        logging.getLogger("voxline.test").debug("too detailed")


def test_logs_go_to_stderr_when_nothing_else_handles_them(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    result = _invoke(_LoggingServer(FakeActions()), "start", "--log-level", "INFO")
    assert result.exit_code == 0
    assert "INFO    voxline.test: serving (devmode=False)" in result.stderr
    assert "too detailed" not in result.stderr
    assert root.handlers == []
