"""The README is the first test: its commands exist and its runnable examples run."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_quickstart_commands_exist_and_are_executable() -> None:
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", README, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["./scripts/run", "./scripts/test"]
    for command in commands:
        path = ROOT / command
        assert path.is_file() and os.access(path, os.X_OK), command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in ci


def test_runnable_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    runnable = [b for b in blocks if "run(main())" in b]
    assert runnable, "the README should keep at least one runnable example"
    for code in runnable:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
