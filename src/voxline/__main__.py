"""`python -m voxline <command> [AGENT_FILE]`, the same as the `voxline` command."""

from .cli._main import main

main()
