"""Manual check: LiveKit's own worker (livekit-agents) against the embedded Dispatcher.

Not part of the suite (livekit-agents is a ~400 MB install that pins its own `livekit`):

    python3 -m venv /tmp/lk && /tmp/lk/bin/pip install 'livekit-agents==1.8.9'
    .venv/bin/python tests/server/livekit_agents_check.py /tmp/lk/bin/python

It registers the real worker, dispatches a job to it by agent name, waits for
JS_SUCCESS, interrupts the worker (it drains: WS_FULL) and prints the message log.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
from pathlib import Path

from livekit.protocol import agent

from voxline.server import Dispatcher

KEY = "devkey"
SECRET = "devsecret_devsecret_devsecret_32"
AGENT = """
from livekit.agents import AgentServer, JobContext, cli
server = AgentServer(load_fnc=lambda: 0.1, port=0)
@server.rtc_session(agent_name="my-agent")
async def entry(ctx: JobContext):
    print("ENTRYPOINT", ctx.job.id, ctx.job.room.name, ctx.job.metadata, flush=True)
    ctx.shutdown("done")
if __name__ == "__main__":
    cli.run_app(server)
"""


async def main(python: str) -> int:
    d = Dispatcher(KEY, SECRET)
    await d.start()
    script = Path(tempfile.mkdtemp()) / "myagent.py"
    script.write_text(AGENT)
    env = dict(os.environ, LIVEKIT_URL=d.url, LIVEKIT_API_KEY=KEY, LIVEKIT_API_SECRET=SECRET)
    proc = await asyncio.create_subprocess_exec(python, str(script), "start", env=env)
    try:
        await d.wait_for(lambda: len(d.workers) == 1, timeout=60)
        [worker] = d.workers.values()
        await d.wait_for(lambda: worker.status_reports > 0)
        job_id = d.create_dispatch("demo", "my-agent", '{"hello":1}').job_ids[0]
        job = await d.wait_for_job(job_id, timeout=30)
        proc.send_signal(signal.SIGINT)
        await d.wait_for(lambda: worker.status == agent.WorkerStatus.WS_FULL, timeout=30)
        await asyncio.wait_for(proc.wait(), 30)
        for m in d.messages:
            print(m.direction, m.kind, str(m.data)[:160])
        print("worker", worker.version, "job", job.status_name, repr(job.error))
        return 0 if job.status == agent.JobStatus.JS_SUCCESS else 1
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await d.aclose()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1])))
