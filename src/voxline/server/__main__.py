"""`python -m voxline.server [--host H] [--port P] [--audio-prefetch N]`: the embedded room
server on its own, until interrupted. API key and secret come from LIVEKIT_API_KEY and
LIVEKIT_API_SECRET (development defaults otherwise). The first line printed is
`voxline room server: http://HOST:PORT room_url=voxline+ws://HOST:PORT`, for scripts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os

from .room_server import DEFAULT_AUDIO_PREFETCH, RoomServer

DEV_KEY = "devkey"
DEV_SECRET = "devsecret_devsecret_devsecret_32"


async def _serve(host: str, port: int, audio_prefetch: int) -> None:
    server = RoomServer(
        os.environ.get("LIVEKIT_API_KEY", DEV_KEY),
        os.environ.get("LIVEKIT_API_SECRET", DEV_SECRET),
        audio_prefetch=audio_prefetch,
    )
    await server.start(host, port)
    print(f"voxline room server: {server.http_url} room_url={server.room_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m voxline.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7880)
    parser.add_argument("--audio-prefetch", type=int, default=DEFAULT_AUDIO_PREFETCH)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.audio_prefetch))


if __name__ == "__main__":
    main()
