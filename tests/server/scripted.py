"""A worker written only from livekit-protocol messages, to drive the Dispatcher one
message at a time (and to replay what LiveKit's own worker sends)."""

from __future__ import annotations

import asyncio
from types import TracebackType

import aiohttp
from livekit import api
from livekit.protocol import agent, models

KEY = "devkey"
SECRET = "devsecret_devsecret_devsecret_32"


def worker_jwt(key: str = KEY, secret: str = SECRET, *, agent_grant: bool = True) -> str:
    grants = api.VideoGrants(agent=True) if agent_grant else api.VideoGrants(room_join=True)
    token = api.AccessToken(key, secret).with_grants(grants)
    if not agent_grant:
        token = token.with_identity("someone")
        grants.room = "r"
    return token.to_jwt()


class ScriptedWorker:
    def __init__(self, url: str, *, token: str | None = None) -> None:
        self.url = url + "/agent"
        self.token = token or worker_jwt()
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.worker_id = ""

    async def __aenter__(self) -> ScriptedWorker:
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(
            self.url, headers={"Authorization": f"Bearer {self.token}"}
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()

    async def send(self, **message: object) -> None:
        assert self.ws is not None
        await self.ws.send_bytes(agent.WorkerMessage(**message).SerializeToString())  # type: ignore[arg-type]

    async def recv(self, timeout: float = 5.0) -> agent.ServerMessage:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.BINARY, f"got {msg.type.name} {msg.data!r}"
        return agent.ServerMessage.FromString(msg.data)

    async def register(self, agent_name: str = "", job_type: int = agent.JT_ROOM) -> str:
        await self.send(
            register=agent.RegisterWorkerRequest(
                type=job_type,  # type: ignore[arg-type]
                agent_name=agent_name,
                version="1.8.9",
                allowed_permissions=models.ParticipantPermission(
                    can_publish=True,
                    can_subscribe=True,
                    can_publish_data=True,
                    can_update_metadata=True,
                    agent=True,
                ),
            )
        )
        reply = await self.recv()
        assert reply.WhichOneof("message") == "register"
        self.worker_id = reply.register.worker_id
        await self.status(agent.WS_AVAILABLE, 0.1)
        return self.worker_id

    async def status(self, status: int, load: float) -> None:
        await self.send(update_worker=agent.UpdateWorkerStatus(status=status, load=load))  # type: ignore[arg-type]

    async def answer(
        self, job_id: str, *, available: bool = True, terminate: bool = False, name: str = ""
    ) -> None:
        await self.send(
            availability=agent.AvailabilityResponse(
                job_id=job_id,
                available=available,
                terminate=terminate,
                participant_identity=f"agent-{job_id}" if available else "",
                participant_attributes={"lk.agent.name": name} if available else {},
            )
        )

    async def job_status(self, job_id: str, status: int, error: str = "") -> None:
        await self.send(
            update_job=agent.UpdateJobStatus(job_id=job_id, status=status, error=error)  # type: ignore[arg-type]
        )


async def settle() -> None:
    """Let the dispatcher handle what was just sent."""
    await asyncio.sleep(0.05)
