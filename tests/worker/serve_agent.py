"""An AgentServer as a program of its own, for the tests that signal or kill it:
`python -m worker.serve_agent URL [AGENT_NAME]`. `AgentServer.run()` handles SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from voxline.worker import AgentServer
from worker import agents
from worker.harness import KEY, SECRET, low_load


def main() -> int:
    url = sys.argv[1]
    agent_name = sys.argv[2] if len(sys.argv) > 2 else ""
    server = AgentServer(
        ws_url=url,
        api_key=KEY,
        api_secret=SECRET,
        num_idle_processes=1,
        port=0,
        load_fnc=low_load,
        setup_fnc=agents.prewarm,
        shutdown_process_timeout=1.0,
        drain_timeout=20,
    )
    server.rtc_session(agent_name=agent_name, on_session_end=agents.write_report)(agents.entrypoint)
    asyncio.run(server.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
