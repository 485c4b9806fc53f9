"""The agent the browser test talks to: scripted VAD, STT and LLM (deterministic and fast),
and the real espeak-ng voice, so real speech audio reaches the page.

The script's times count from the first audio frame the agent receives: the fake microphone
plays `QUESTION` from 0.5 s to about 2.5 s (see `drive_playground.make_question_wav`).
"""

from __future__ import annotations

from voxline import Agent, AgentServer, AgentSession, JobContext, cli
from voxline.plugins import espeak
from voxline.testing.fakes import FakeActions, FakeLLM, FakeSTT, FakeVAD

QUESTION = "What is the capital of France?"
ANSWER = "The capital of France is Paris."


def make_session() -> AgentSession[None]:
    actions = FakeActions().add_user_speech(0.5, 2.5, QUESTION).add_llm(ANSWER)
    return AgentSession(
        vad=FakeVAD(actions), stt=FakeSTT(actions), llm=FakeLLM(actions), tts=espeak.TTS()
    )


server = AgentServer(port=0)


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session = make_session()
    await session.start(agent=Agent(instructions="Answer questions briefly."), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(server)
