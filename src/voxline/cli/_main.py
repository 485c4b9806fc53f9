"""`voxline <command> [AGENT_FILE] [options]`: the installed command.

`voxline console examples/assistant.py` runs exactly what `python examples/assistant.py console`
runs: the agent file is executed as the main module with `sys.argv` rewritten, so its own
`cli.run_app(server)` call takes over, and job processes re-import it the way they would for
`python agent.py` (multiprocessing finds the main module by path). A file without that call
still works when it defines an `AgentServer` at module level. `voxline download-files` needs no
file: it fetches every local model voxline knows.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

from ._app import app, run_app

_NO_FILE_NEEDED = {"download-files"}


def _find_server(namespace: dict[str, object], path: Path) -> object:
    from ..worker import AgentServer

    servers = [v for v in namespace.values() if isinstance(v, AgentServer)]
    if len(servers) != 1:
        found = "no AgentServer" if not servers else f"{len(servers)} AgentServers"
        raise SystemExit(
            f"voxline: {path} defines {found} at module level; define one "
            "(`server = AgentServer()` with an `@server.rtc_session()` entrypoint)"
        )
    return servers[0]


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    file_index = next((i for i, a in enumerate(args) if a.endswith(".py")), None)
    if file_index is None:
        if args and args[0] not in _NO_FILE_NEEDED and not args[0].startswith("-"):
            raise SystemExit(
                f"voxline {args[0]}: name the agent file, e.g. "
                f"`voxline {args[0]} examples/assistant.py`"
            )
        app(args=args, prog_name="voxline", obj=None)
        return
    path = Path(args.pop(file_index))
    if not path.is_file():
        raise SystemExit(f"voxline: no such agent file: {path}")
    sys.argv = [str(path), *args]
    sys.path.insert(0, str(path.resolve().parent))
    # the file's own `if __name__ == "__main__": cli.run_app(server)` ends with SystemExit
    namespace = runpy.run_path(str(path), run_name="__main__")
    run_app(_find_server(namespace, path), argv=args, prog_name=f"voxline {path}")  # type: ignore[arg-type]
