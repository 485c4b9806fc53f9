"""A warm job process has the job path imported before its first job, so that job
starts as fast as the later ones (the protocol import alone costs ~45 ms)."""

from __future__ import annotations

from pathlib import Path

from livekit.protocol import agent

from worker.harness import bounded, cluster, read, spec
from worker.preload_probe import JOB_PATH_MODULES, record_modules


@bounded(40)
async def test_a_fresh_pool_process_has_the_job_path_imported(tmp_path: Path) -> None:
    async with cluster({"setup_fnc": record_modules}) as (d, _):
        job_id = d.create_dispatch("preload", "", spec(tmp_path)).job_ids[0]
        await d.wait_for_job(job_id, agent.JobStatus.JS_SUCCESS)
        preloaded = read(tmp_path, job_id)["userdata"]["preloaded"]
        assert preloaded == dict.fromkeys(JOB_PATH_MODULES, True)
