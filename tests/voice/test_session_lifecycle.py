"""Lifecycle and control: drain, shutdown, I/O switches, turn-detector models, agent
switches, AgentTask, userdata and node overrides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from support.timeline import approx, record
from voxline import (
    Agent,
    AgentSession,
    AgentTask,
    ChatContext,
    ModelSettings,
    RunContext,
    function_tool,
)
from voxline.audio import AudioFrame
from voxline.llm import FunctionToolCall
from voxline.testing import (
    FakeActions,
    FakeAudioOutput,
    FakeTextOutput,
    create_session,
    run_session,
)
from voxline.voice.recognition import EARLY_PREDICTION_SILENCE, SECOND_LOOK_SILENCE


def _audio(session: Any) -> FakeAudioOutput:
    audio = session.output.audio
    assert isinstance(audio, FakeAudioOutput)
    return audio


async def _started(
    actions: FakeActions, agent: Agent | None = None, **kwargs: Any
) -> AgentSession[Any]:
    session = create_session(actions, **kwargs)
    session.input.audio.push(60.0)  # type: ignore[union-attr]
    await session.start(agent or Agent(instructions="Talk."))
    return session


@pytest.mark.virtual_time
async def test_drain_plays_queued_speech_then_close_reports_the_reason() -> None:
    actions = FakeActions()
    actions.add_tts(1.0, input="one")
    actions.add_tts(2.0, input="two")
    session = await _started(actions)
    timeline = record(session)
    session.say("one")
    session.say("two")
    start = asyncio.get_running_loop().time()
    await session.drain()
    assert approx(asyncio.get_running_loop().time() - start, 3.4)
    session.shutdown()
    await asyncio.sleep(0.1)
    assert [
        (round(e.playback_position, 1), e.interrupted)
        for e in _audio(session).playback_finished_events
    ] == [
        (1.0, False),
        (2.0, False),
    ]
    assert [c.reason.value for c in timeline.of("close")] == ["user_initiated"]
    assert session.lifecycle == "closed"


@pytest.mark.virtual_time
async def test_disabled_audio_input_is_not_heard() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "you cannot hear me")
    session = create_session(actions)
    session.input.set_audio_enabled(False)
    timeline = record(session)
    await run_session(session, Agent(instructions="Listen."))
    assert timeline.user_states() == []
    assert [i for i in session.history.items if i.type == "message"] == []


@pytest.mark.virtual_time
async def test_disabled_outputs_still_commit_the_reply_text() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "hello")
    actions.add_llm("Hi there!")
    actions.add_tts(1.0)
    session = create_session(actions)
    session.output.set_audio_enabled(False)
    session.output.set_transcription_enabled(False)
    await run_session(session, Agent(instructions="Greet."))
    assert _audio(session).playback_finished_events == []
    text = session.output.transcription
    assert isinstance(text, FakeTextOutput) and text.pieces == []
    answers = [
        i.text_content
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]
    assert answers == ["Hi there!"]


class ScriptedTurnDetector:
    """Complete only when the transcript ends with punctuation."""

    unlikely_threshold = 0.5

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def predict_end_of_turn(
        self, chat_ctx: ChatContext, *, audio: list[AudioFrame] | None = None
    ) -> float:
        text = chat_ctx.items[-1].text_content or ""  # type: ignore[union-attr]
        self.calls.append(text)
        return 0.9 if text.endswith((".", "?", "!")) else 0.1


@pytest.mark.virtual_time
@pytest.mark.parametrize(("transcript", "commit_at"), [("I am done.", 3.0), ("I want to", 8.5)])
async def test_turn_detector_model_picks_min_or_max_delay(
    transcript: str, commit_at: float
) -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, transcript)
    detector = ScriptedTurnDetector()
    session = create_session(actions, turn_handling={"turn_detection": detector})
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Listen."), drain_delay=7.0)
    users = [e for e in timeline.of("conversation_item_added") if e.item.type == "message"]
    assert len(users) == 1 and approx(timeline.at(users[0]), commit_at)
    assert detector.calls == [transcript]
    assert approx(users[0].item.metrics["end_of_turn_delay"], commit_at - 2.5)


class Greeter(Agent):
    def __init__(self, log: list[str]) -> None:
        super().__init__(instructions="Greet.")
        self.log = log

    async def on_enter(self) -> None:
        self.log.append("greeter.enter")

    async def on_exit(self) -> None:
        self.log.append("greeter.exit")


class Closer(Agent):
    def __init__(self, log: list[str]) -> None:
        super().__init__(instructions="Close.")
        self.log = log

    async def on_enter(self) -> None:
        self.log.append("closer.enter")


@pytest.mark.virtual_time
async def test_update_agent_runs_on_exit_then_on_enter() -> None:
    log: list[str] = []
    session = await _started(FakeActions(), Greeter(log))
    await asyncio.sleep(0.1)
    session.update_agent(Closer(log))
    await asyncio.sleep(0.1)
    assert log == ["greeter.enter", "greeter.exit", "closer.enter"]
    assert isinstance(session.current_agent, Closer)
    handoffs = [
        (i.old_agent_id, i.new_agent_id) for i in session.history.items if i.type == "agent_handoff"
    ]
    assert handoffs == [(None, "greeter"), ("greeter", "closer")]
    await session.aclose()


@dataclass
class Order:
    items: list[str]


class TakeName(AgentTask[str]):
    def __init__(self) -> None:
        super().__init__(instructions="Ask for the name.")

    async def on_enter(self) -> None:
        self.session.say("What is your name?")

    @function_tool
    async def record_name(self, name: str) -> None:
        """Record the caller's name."""
        self.complete(name)


class Shop(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="Sell things.")
        self.names: list[str] = []

    @function_tool
    async def start_order(self, ctx: RunContext[Order]) -> str:
        """Start an order."""
        name = await TakeName()
        self.names.append(name)
        ctx.userdata.items.append(f"order for {name}")
        return f"order started for {name}"


@pytest.mark.virtual_time
async def test_agent_task_returns_its_result_to_the_calling_tool() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "I want to order")
    actions.add_llm(
        "Sure.", tool_calls=[FunctionToolCall(name="start_order", arguments="{}", call_id="o1")]
    )
    actions.add_tts(0.5)
    actions.add_tts(1.0, input="What is your name?")
    actions.add_user_speech(5.0, 6.0, "Ada")
    actions.add_llm(
        "Thanks Ada.",
        tool_calls=[
            FunctionToolCall(name="record_name", arguments='{"name": "Ada"}', call_id="n1")
        ],
    )
    actions.add_tts(0.5)
    actions.add_llm("Your order is started.", input="order started for Ada")
    actions.add_tts(1.0)
    order = Order(items=[])
    session = create_session(actions, extra_kwargs={"userdata": order})
    shop = Shop()
    await run_session(session, shop, drain_delay=8.0)
    assert shop.names == ["Ada"] and order.items == ["order for Ada"]
    assert session.userdata is order
    said = [
        i.text_content
        for i in session.history.items
        if i.type == "message" and i.role == "assistant"
    ]
    assert said == ["Sure.", "What is your name?", "Thanks Ada.", "Your order is started."]
    outputs = [i.output for i in session.history.items if i.type == "function_call_output"]
    assert "order started for Ada" in outputs
    session.history.to_openai()


class ShoutingAgent(Agent):
    """A transcription_node override that wraps the default."""

    def __init__(self) -> None:
        super().__init__(instructions="Shout.")

    async def transcription_node(  # type: ignore[override]
        self, text: AsyncIterable[str], model_settings: ModelSettings
    ) -> AsyncIterator[str]:
        async for piece in Agent.default.transcription_node(self, text, model_settings):
            yield piece.upper()


@pytest.mark.virtual_time
async def test_transcription_node_override_shapes_what_the_user_reads() -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 1.5, "hello")
    actions.add_llm("hi there")
    actions.add_tts(1.0)
    session = create_session(actions)
    await run_session(session, ShoutingAgent())
    text = session.output.transcription
    assert isinstance(text, FakeTextOutput) and "".join(text.pieces) == "HI THERE"


def test_userdata_must_be_set_before_use() -> None:
    session: AgentSession[Order] = AgentSession()
    with pytest.raises(ValueError, match="userdata was not set"):
        _ = session.userdata
    session.userdata = Order(items=["x"])
    assert session.userdata.items == ["x"]


@pytest.mark.virtual_time
async def test_say_plays_prerendered_audio_without_a_tts() -> None:

    async def chime() -> AsyncIterator[AudioFrame]:
        for _ in range(10):
            yield AudioFrame.create(16000, 1, 1600)  # 10 x 0.1 s

    session: AgentSession[Any] = AgentSession()
    session.output.audio = FakeAudioOutput()
    await session.start(Agent(instructions="Chime."))
    await session.say("ding", audio=chime())
    finished = _audio(session).playback_finished_events
    assert [(round(e.playback_position, 2), e.interrupted) for e in finished] == [(1.0, False)]
    said = [i.text_content for i in session.history.items if i.type == "message"]
    assert said == ["ding"]
    await session.aclose()


class Second(Agent):
    def __init__(self, chat_ctx: ChatContext) -> None:
        super().__init__(instructions="Second desk.", chat_ctx=chat_ctx)


@pytest.mark.virtual_time
async def test_a_new_agent_starts_with_the_context_the_developer_passes() -> None:
    from voxline.testing import FakeLLM

    actions = FakeActions()
    actions.add_llm("Hello there.", input="hi")
    llm = FakeLLM(actions)
    session: AgentSession[Any] = AgentSession(llm=llm)
    first = Agent(instructions="First desk.")
    await session.start(first)
    await session.generate_reply(user_input="hi")
    second = Second(chat_ctx=first.chat_ctx)
    session.update_agent(second)
    await asyncio.sleep(0.1)
    texts = [(i.role, i.text_content) for i in second.chat_ctx.items if i.type == "message"]
    assert texts[0] == ("system", "Second desk.")  # its own instructions replace the old ones
    assert ("user", "hi") in texts and ("assistant", "Hello there.") in texts
    await session.aclose()


@pytest.mark.virtual_time
async def test_resampled_output_keeps_every_sample_of_a_segment() -> None:
    """16 kHz TTS audio into a 24 kHz output: the resampler's tail is flushed at the end of
    each segment, so nothing is lost and nothing leaks into the next one."""
    actions = FakeActions()
    actions.add_tts(0.8, input="one")
    actions.add_tts(0.8, input="two")
    session = create_session(actions)
    session.output.audio = FakeAudioOutput(sample_rate=24000)
    session.input.audio.push(10.0)  # type: ignore[union-attr]
    await session.start(Agent(instructions="Talk."))
    session.say("one")
    await session.say("two")
    played = [round(e.playback_position, 4) for e in _audio(session).playback_finished_events]
    assert played == [0.8, 0.8]
    await session.aclose()


class AudioTurnDetector:
    """Says "complete" after 0.4 s of work; `audio_only` as an audio model declares it."""

    unlikely_threshold = 0.5

    def __init__(self, *, audio_only: bool) -> None:
        self.audio_only = audio_only
        self.started: list[float] = []

    async def predict_end_of_turn(
        self, chat_ctx: ChatContext, *, audio: list[AudioFrame] | None = None
    ) -> float:
        assert audio, "an audio detector gets the user's audio"
        self.started.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.4)
        return 0.9


@pytest.mark.virtual_time
@pytest.mark.parametrize(("audio_only", "commit_after_final"), [(True, 0.0), (False, 0.4)])
async def test_an_audio_only_detector_scores_the_turn_while_the_stt_works(
    audio_only: bool, commit_after_final: float
) -> None:
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "I am done", stt_delay=0.8)
    detector = AudioTurnDetector(audio_only=audio_only)
    session = create_session(actions, turn_handling={"turn_detection": detector})
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Listen."), drain_delay=7.0)
    users = [e for e in timeline.of("conversation_item_added") if e.item.type == "message"]
    finals = [e for e in timeline.of("user_input_transcribed") if e.is_final]
    assert len(users) == 1 and len(finals) == 1
    # speech ends at 2.5 s, the VAD declares it at 3.0 s, the transcript comes at 3.3 s:
    # with audio_only the detector starts after EARLY_PREDICTION_SILENCE (0.15 s) of silence
    # (2.7 s: the VAD's silence count lags the audio by one 50 ms window) and its verdict is
    # ready when the transcript comes; without it the detector starts at 3.3 s and takes its
    # whole 0.4 s after the transcript
    assert approx(timeline.at(users[0]) - timeline.at(finals[0]), commit_after_final)
    assert len(detector.started) == 1
    started = detector.started[0] - timeline.origin
    assert approx(started, 2.55 + EARLY_PREDICTION_SILENCE if audio_only else 3.3)


def test_a_pause_starts_the_early_verdict_and_speech_resuming_drops_it() -> None:
    """Inside one VAD segment: 0.15 s of silence asks the audio-only detector; the silence
    count falling back (the user went on) cancels it and tells the turn engine that a
    preflight transcript of the pause is stale; the next pause asks again."""
    from voxline.voice.recognition import Recognition

    calls: list[str] = []

    class Session:
        def _start_early_prediction(self) -> None:
            calls.append("start")

        def _cancel_early_prediction(self) -> None:
            calls.append("cancel")

        def _retry_early_prediction(self) -> None:
            calls.append("retry")

    recognition = Recognition.__new__(Recognition)
    recognition._session = Session()  # type: ignore[assignment]
    recognition._feed = lambda ev: calls.append(type(ev).__name__)  # type: ignore[method-assign]
    recognition._pause = 0.0
    for silence in (0.0, 0.05, 0.1, 0.16, 0.35, 0.0, 0.05, 0.1, 0.15, 0.4):
        recognition._track_pause(silence)
    assert calls == ["start", "retry", "cancel", "SpeechResumed", "start", "retry"]


class SecondLookDetector(AudioTurnDetector):
    """'Not finished' on the early, short-pause audio; 'finished' on a second look."""

    def __init__(self) -> None:
        super().__init__(audio_only=True)
        self.verdicts = [0.1, 0.9]

    async def predict_end_of_turn(
        self, chat_ctx: ChatContext, *, audio: list[AudioFrame] | None = None
    ) -> float:
        await super().predict_end_of_turn(chat_ctx, audio=audio)
        return self.verdicts.pop(0)


async def one_detected_turn(detector: AudioTurnDetector) -> tuple[float, list[float]]:
    """Speech from 0.5 s to 2.5 s, its transcript at 3.3 s: when the turn was committed and
    when the detector was asked, both from the session's start."""
    actions = FakeActions()
    actions.add_user_speech(0.5, 2.5, "I am done", stt_delay=0.8)
    session = create_session(actions, turn_handling={"turn_detection": detector})
    timeline = record(session)
    timeline.origin = await run_session(session, Agent(instructions="Listen."), drain_delay=7.0)
    users = [e for e in timeline.of("conversation_item_added") if e.item.type == "message"]
    assert len(users) == 1
    return timeline.at(users[0]), [t - timeline.origin for t in detector.started]


@pytest.mark.virtual_time
async def test_an_early_not_finished_gets_a_second_look_before_max_delay() -> None:
    committed, asked = await one_detected_turn(SecondLookDetector())
    # asked at 2.7 s (0.15 s pause): 0.1; asked again when the transcript came (3.3 s): 0.9,
    # so the turn ends at 3.7 s instead of waiting for max_delay
    first, second = asked
    assert approx(first, 2.55 + EARLY_PREDICTION_SILENCE) and approx(second, 3.3)
    assert approx(committed, 3.7)


class QuickSecondLookDetector(SecondLookDetector):
    """The same verdicts, with the given seconds of work each (0.1 s by default)."""

    def __init__(self, work: tuple[float, ...] = (0.1, 0.1)) -> None:
        super().__init__()
        self.work = list(work)

    async def predict_end_of_turn(
        self, chat_ctx: ChatContext, *, audio: list[AudioFrame] | None = None
    ) -> float:
        self.started.append(asyncio.get_running_loop().time())
        await asyncio.sleep(self.work.pop(0))
        return self.verdicts.pop(0)


@pytest.mark.virtual_time
async def test_a_not_finished_early_verdict_is_looked_at_again_within_the_pause() -> None:
    committed, asked = await one_detected_turn(QuickSecondLookDetector())
    # 0.1 at 2.7 s (0.15 s pause); the pause goes on, so again at 2.9 s (0.35 s): 0.9 by
    # 3.0 s. The transcript at 3.3 s finds a "finished" ready and the turn ends then, not
    # after another look (3.4 s)
    first, second = asked
    assert approx(first, 2.55 + EARLY_PREDICTION_SILENCE)
    assert approx(second, 2.55 + SECOND_LOOK_SILENCE)
    assert approx(committed, 3.3)


@pytest.mark.parametrize(
    ("speaking", "pause", "preflight"),
    [(True, 0.25, True), (False, 0.0, True), (True, 0.0, False)],
)
def test_a_preflight_counts_only_while_this_vad_hears_a_pause_or_the_end(
    speaking: bool, pause: float, preflight: bool
) -> None:
    """The STT's own VAD may lag the session's by a window: a preflight that arrives when
    the session's VAD already hears the user again reaches the engine as a plain interim."""
    from voxline.stt.stt import SpeechData, SpeechEvent, SpeechEventType
    from voxline.voice import turns
    from voxline.voice.recognition import Recognition

    fed: list[turns.TurnInput] = []

    class Session:
        def _on_transcript(self, text: str, *, is_final: bool, event: SpeechEvent) -> None:
            pass

    recognition = Recognition.__new__(Recognition)
    recognition._session = Session()  # type: ignore[assignment]
    recognition._vad = object()  # type: ignore[assignment]
    recognition._feed = fed.append  # type: ignore[method-assign]
    recognition._user_speaking = speaking
    recognition._pause = pause
    recognition._on_stt_event(
        SpeechEvent(SpeechEventType.PREFLIGHT_TRANSCRIPT, [SpeechData(language="", text="hi")])
    )
    (transcript,) = fed
    assert isinstance(transcript, turns.Transcript)
    assert (transcript.final, transcript.preflight) == (False, preflight)


@pytest.mark.virtual_time
async def test_a_late_not_finished_early_verdict_is_looked_at_again_when_it_comes() -> None:
    """The early verdict takes longer than the pause's second-look point (a busy machine):
    it is looked at again the moment it comes back, not only when the transcript comes."""
    committed, asked = await one_detected_turn(QuickSecondLookDetector(work=(0.25, 0.1)))
    first, second = asked
    assert approx(first, 2.55 + EARLY_PREDICTION_SILENCE)
    assert approx(second, first + 0.25)  # on the verdict's return, past the 0.35 s point
    assert approx(committed, 3.3)
