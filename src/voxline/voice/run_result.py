"""Text-mode testing: what one `session.run(user_input=...)` caused, and assertions on it.

A voice agent is hard to test through audio; its *behaviour* (what it said, which tools it
called with which arguments, where it handed the conversation) is not. `session.run()` sends
text, waits until every reply, tool step, handoff and `on_enter` it caused is finished, and
returns a `RunResult` whose `events` are those steps in conversation order. `result.expect`
walks them like a cursor, so a test reads like the conversation it checks::

    result = await session.run(user_input="What's the weather in Paris?")
    result.expect.next_event().is_function_call(name="get_weather", arguments={"location": "Paris"})
    result.expect.next_event().is_function_call_output()
    await result.expect.next_event().is_message(role="assistant").judge(llm, intent="...")
    result.expect.no_more_events()

Every failed assertion raises `AssertionError` with all the events numbered and a `>>>` marker
where the cursor was, because "expected a message, got a function call" means nothing without
the run around it. Set `VOXLINE_EVALS_VERBOSE=1` to print every run's events.

The names and behaviour follow LiveKit Agents' `voice/run_result.py`, so tests port by
changing imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, TypeVar, Union, overload

from ..llm.chat_context import (
    AgentHandoff,
    ChatContext,
    ChatItem,
    ChatMessage,
    ChatRole,
    FunctionCall,
    FunctionCallOutput,
)
from ..llm.tool_context import (
    FunctionTool,
    ToolArgumentsError,
    function_tool,
    parse_json_arguments,
)
from .agent import Agent
from .speech import SpeechHandle

if TYPE_CHECKING:
    from ..llm.llm import LLM
    from .session import AgentSession

__all__ = [
    "AgentHandoffAssert",
    "AgentHandoffEvent",
    "ChatMessageAssert",
    "ChatMessageEvent",
    "EventAssert",
    "EventRangeAssert",
    "FunctionCallAssert",
    "FunctionCallEvent",
    "FunctionCallOutputAssert",
    "FunctionCallOutputEvent",
    "RunAssert",
    "RunEvent",
    "RunEventType",
    "RunResult",
    "format_judge_request",
    "mock_tools",
]

T = TypeVar("T")

RunEventType = Literal["message", "function_call", "function_call_output", "agent_handoff"]
_EVENT_TYPES: tuple[RunEventType, ...] = typing.get_args(RunEventType)

VERBOSE_ENV = "VOXLINE_EVALS_VERBOSE"


def _verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


# ================================================================================== events


@dataclass
class ChatMessageEvent:
    """The agent said something (or a message was added to the conversation)."""

    item: ChatMessage
    type: Literal["message"] = "message"

    def __str__(self) -> str:
        flag = ", interrupted" if self.item.interrupted else ""
        return f"message ({self.item.role}{flag}): {self.item.text_content or ''!r}"


@dataclass
class FunctionCallEvent:
    """The model called a tool; `item.arguments` is the JSON the model wrote."""

    item: FunctionCall
    type: Literal["function_call"] = "function_call"

    def __str__(self) -> str:
        return f"function_call: {self.item.name}({self.item.arguments})"


@dataclass
class FunctionCallOutputEvent:
    """What a tool returned to the model (`is_error` when it raised)."""

    item: FunctionCallOutput
    type: Literal["function_call_output"] = "function_call_output"

    def __str__(self) -> str:
        flag = ", error" if self.item.is_error else ""
        return f"function_call_output ({self.item.name}{flag}): {self.item.output!r}"


@dataclass
class AgentHandoffEvent:
    """Another agent took over; `old_agent` is None for the first agent of a session."""

    item: AgentHandoff
    old_agent: Agent | None
    new_agent: Agent | None
    type: Literal["agent_handoff"] = "agent_handoff"

    def __str__(self) -> str:
        def name(agent: Agent | None, agent_id: str | None) -> str:
            if agent is not None:
                return f"{agent.id} ({type(agent).__name__})"
            return agent_id or "none"

        old = name(self.old_agent, self.item.old_agent_id)
        new = name(self.new_agent, self.item.new_agent_id)
        return f"agent_handoff: {old} -> {new}"


RunEvent = Union[ChatMessageEvent, FunctionCallEvent, FunctionCallOutputEvent, AgentHandoffEvent]


def _format_events(
    events: Sequence[RunEvent], *, marker: int | None = None, header: str | None = None
) -> str:
    """A numbered list of the events, with `>>>` at `marker` (which may be one past the end:
    the cursor is there when every event was consumed)."""
    lines = [header] if header else []
    if not events:
        lines.append(">>> (no events)" if marker is not None else "    (no events)")
    for i, ev in enumerate(events):
        prefix = ">>>" if i == marker else "   "
        lines.append(f"{prefix} [{i}] {ev}")
    if events and marker is not None and marker >= len(events):
        lines.append(">>> (end of events)")
    return "\n".join(lines)


# ================================================================================== result


class RunResult(Generic[T]):
    """What one `session.run()` caused. The session reports into it while the run lasts
    (`_on_item`, `_watch_speech`, `_watch_task`, `_on_task_result`) and awaits `_wait_done()`.
    """

    def __init__(
        self,
        *,
        user_input: str,
        output_type: type[T] | None = None,
        session: AgentSession[Any] | None = None,
    ) -> None:
        self.user_input = user_input
        self._output_type = output_type
        self._session: AgentSession[Any] | None = None
        # the agent in charge at each point of the run: a handoff item only carries ids
        self._current_agent: Agent | None = None
        if session is not None:
            self._bind_session(session)
        self._events: list[RunEvent] = []
        self._user_message_seen = False
        self._handles: list[SpeechHandle] = []
        self._finish_order: list[SpeechHandle] = []
        self._tasks: list[asyncio.Future[Any]] = []
        self._changed = asyncio.Event()
        self._final_output: Any = None
        self._has_output = False
        self._done = False
        self._expect: RunAssert | None = None

    # ------------------------------------------------------------------ public

    @property
    def events(self) -> list[RunEvent]:
        """The run's events in conversation order (by the items' `created_at`)."""
        return sorted(self._events, key=lambda ev: ev.item.created_at)

    @property
    def items(self) -> list[ChatItem]:
        """The chat items behind `events`, in the same order."""
        return [ev.item for ev in self.events]

    @property
    def expect(self) -> RunAssert:
        """The assertion cursor over `events`; the same object on every access, so
        consecutive `result.expect.next_event()` calls walk forward."""
        if self._expect is None:
            self._expect = RunAssert(self)
        return self._expect

    @property
    def final_output(self) -> T:
        """The result an AgentTask completed with during the run (`output_type` checked)."""
        if not self._has_output:
            raise RuntimeError("the run produced no final output: no AgentTask completed during it")
        if isinstance(self._final_output, BaseException):
            raise self._final_output
        return typing.cast(T, self._final_output)

    def done(self) -> bool:
        return self._done

    def __str__(self) -> str:
        return _format_events(self.events, header=self._header())

    def __repr__(self) -> str:
        return f"RunResult(user_input={self.user_input!r}, events={len(self._events)})"

    def _header(self) -> str:
        n = len(self._events)
        return f"run of user_input={self.user_input!r} ({n} event{'s' if n != 1 else ''}):"

    # ------------------------------------------------------------------ session hooks

    def _bind_session(self, session: AgentSession[Any]) -> None:
        self._session = session
        self._current_agent = session._agent

    def _on_item(self, item: ChatItem) -> None:
        if self._done:
            return
        if item.type == "message":
            if (
                not self._user_message_seen
                and item.role == "user"
                and item.text_content == self.user_input
            ):
                self._user_message_seen = True  # the input itself is not something that happened
                return
            self._events.append(ChatMessageEvent(item))
        elif item.type == "function_call":
            self._events.append(FunctionCallEvent(item))
        elif item.type == "function_call_output":
            self._events.append(FunctionCallOutputEvent(item))
        elif item.type == "agent_handoff":
            self._events.append(self._handoff_event(item))
        else:
            return  # configuration updates are not conversation steps

    def _handoff_event(self, item: AgentHandoff) -> AgentHandoffEvent:
        # the session reports a handoff right after switching, so its agent is the new one
        new = self._session._agent if self._session is not None else None
        if new is not None and new.id != item.new_agent_id:
            new = None
        old = self._current_agent
        if old is None or old.id != item.old_agent_id:
            old = None
        self._current_agent = new
        return AgentHandoffEvent(item, old_agent=old, new_agent=new)

    def _watch_speech(self, handle: SpeechHandle) -> None:
        if handle in self._handles:
            return
        self._handles.append(handle)
        handle.add_done_callback(self._on_speech_done)
        self._changed.set()

    def _on_speech_done(self, handle: SpeechHandle) -> None:
        self._finish_order.append(handle)
        self._changed.set()

    def _watch_task(self, task: asyncio.Future[Any]) -> None:
        self._tasks.append(task)
        task.add_done_callback(lambda _: self._changed.set())
        self._changed.set()

    def _on_task_result(self, task: Any, result: Any) -> None:
        self._final_output = result
        self._has_output = True

    async def _wait_done(self) -> None:
        """Wait for every watched speech and task (each may start more before it ends), then
        raise what went wrong: the last speech's failure, a failed handoff, a wrong
        `output_type`."""
        while self._pending():
            self._changed.clear()
            await self._changed.wait()
        self._done = True
        if _verbose():
            print(str(self), flush=True)
        self._raise_failures()

    def _pending(self) -> bool:
        return any(not h.done() for h in self._handles) or any(not t.done() for t in self._tasks)

    def _raise_failures(self) -> None:
        # the last speech to finish is the run's final word (a failed greeting that a later
        # reply made up for is not the run's failure); a handle whose done callback has not
        # run yet finished last of all
        unseen = [h for h in self._handles if h not in self._finish_order]
        order = self._finish_order + unseen
        error = order[-1].exception() if order else None
        if error is not None:
            raise error
        for task in self._tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
        expected = self._output_type
        if expected is None:
            return
        if not self._has_output:
            raise RuntimeError(
                f"run() expected an output of type {_type_name(expected)}, but no AgentTask "
                f"completed during the run\n{self}"
            )
        output = self._final_output
        if isinstance(output, BaseException):
            raise output
        # `list[str]` is checked as list; a Union or other special form is not checked
        check = typing.get_origin(expected) or expected
        if isinstance(check, type) and not isinstance(output, check):
            raise TypeError(
                f"run() expected an output of type {_type_name(expected)}, but the AgentTask "
                f"completed with {type(output).__name__}: {output!r}"
            )


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


# ================================================================================== matching
# Each returns why the event does not match, or None; asserts raise it, searches skip on it.


def _message_mismatch(ev: RunEvent, role: ChatRole | None) -> str | None:
    if not isinstance(ev, ChatMessageEvent):
        return f"expected a message, got {ev.type}"
    if role is not None and ev.item.role != role:
        return f"expected a message with role={role!r}, got role={ev.item.role!r}"
    return None


def _function_call_mismatch(
    ev: RunEvent, name: str | None, arguments: Mapping[str, Any] | None
) -> str | None:
    if not isinstance(ev, FunctionCallEvent):
        return f"expected a function_call, got {ev.type}"
    if name is not None and ev.item.name != name:
        return f"expected a call to {name!r}, got a call to {ev.item.name!r}"
    if arguments is not None:
        try:
            actual = parse_json_arguments(ev.item.arguments, tool_name=ev.item.name)
        except ToolArgumentsError as e:
            return f"the call's arguments cannot be compared: {e}"
        for key, value in arguments.items():
            if key not in actual:
                return f"expected argument {key!r}={value!r}, but the call has no {key!r}"
            if actual[key] != value:
                return f"expected argument {key!r}={value!r}, got {actual[key]!r}"
    return None


def _function_call_output_mismatch(
    ev: RunEvent, output: str | None, is_error: bool | None
) -> str | None:
    if not isinstance(ev, FunctionCallOutputEvent):
        return f"expected a function_call_output, got {ev.type}"
    if output is not None and ev.item.output != output:
        return f"expected output {output!r}, got {ev.item.output!r}"
    if is_error is not None and ev.item.is_error != is_error:
        return f"expected is_error={is_error}, got is_error={ev.item.is_error}"
    return None


def _agent_handoff_mismatch(ev: RunEvent, new_agent_type: type[Agent] | None) -> str | None:
    if not isinstance(ev, AgentHandoffEvent):
        return f"expected an agent_handoff, got {ev.type}"
    if new_agent_type is not None:
        if ev.new_agent is None:
            return (
                f"expected a handoff to a {new_agent_type.__name__}, but the new agent "
                f"{ev.item.new_agent_id!r} is not known to the run"
            )
        if not isinstance(ev.new_agent, new_agent_type):
            return (
                f"expected a handoff to a {new_agent_type.__name__}, "
                f"got {type(ev.new_agent).__name__}"
            )
    return None


def _check_type(type: str | None) -> None:
    if type is not None and type not in _EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; use one of {list(_EVENT_TYPES)}")


# ================================================================================== asserts


class RunAssert:
    """A cursor over a run's events. `next_event()` consumes one; indexing and slices look
    without moving; `contains_*` search the events from anywhere."""

    def __init__(self, result: RunResult[Any]) -> None:
        self._result = result
        self._events = result.events
        self._cursor = 0

    # ------------------------------------------------------------------ cursor

    @overload
    def next_event(self, *, type: None = None) -> EventAssert: ...
    @overload
    def next_event(self, *, type: Literal["message"]) -> ChatMessageAssert: ...
    @overload
    def next_event(self, *, type: Literal["function_call"]) -> FunctionCallAssert: ...
    @overload
    def next_event(self, *, type: Literal["function_call_output"]) -> FunctionCallOutputAssert: ...
    @overload
    def next_event(self, *, type: Literal["agent_handoff"]) -> AgentHandoffAssert: ...

    def next_event(self, *, type: RunEventType | None = None) -> Any:
        """The next event; with `type`, events of other types before it are skipped."""
        __tracebackhide__ = True
        _check_type(type)
        while True:
            if self._cursor >= len(self._events):
                what = f"another {type} event" if type else "another event"
                self._fail(f"expected {what}, but there are no more events")
            index = self._cursor
            self._cursor += 1
            if type is None or self._events[index].type == type:
                break
        ev = EventAssert(self, index)
        if type == "message":
            return ev.is_message()
        if type == "function_call":
            return ev.is_function_call()
        if type == "function_call_output":
            return ev.is_function_call_output()
        if type == "agent_handoff":
            return ev.is_agent_handoff()
        return ev

    def skip_next(self, n: int = 1) -> RunAssert:
        """Move past `n` events whatever they are."""
        __tracebackhide__ = True
        if n < 0:
            raise ValueError(f"cannot skip a negative number of events ({n})")
        left = len(self._events) - self._cursor
        if n > left:
            self._fail(f"cannot skip {n} event(s): only {left} left")
        self._cursor += n
        return self

    @overload
    def skip_next_event_if(
        self, *, type: Literal["message"], role: ChatRole | None = None
    ) -> ChatMessageAssert | None: ...
    @overload
    def skip_next_event_if(
        self,
        *,
        type: Literal["function_call"],
        name: str | None = None,
        arguments: Mapping[str, Any] | None = None,
    ) -> FunctionCallAssert | None: ...
    @overload
    def skip_next_event_if(
        self,
        *,
        type: Literal["function_call_output"],
        output: str | None = None,
        is_error: bool | None = None,
    ) -> FunctionCallOutputAssert | None: ...
    @overload
    def skip_next_event_if(
        self, *, type: Literal["agent_handoff"], new_agent_type: type[Agent] | None = None
    ) -> AgentHandoffAssert | None: ...

    def skip_next_event_if(
        self,
        *,
        type: RunEventType,
        role: ChatRole | None = None,
        name: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        output: str | None = None,
        is_error: bool | None = None,
        new_agent_type: type[Agent] | None = None,
    ) -> Any:
        """Consume the next event only if it matches (for steps a model may or may not
        take, like a filler message before a tool call); return its assertion or None."""
        _check_type(type)
        if self._cursor >= len(self._events):
            return None
        index = self._cursor
        ev = self._events[index]
        if _mismatch(ev, type, role, name, arguments, output, is_error, new_agent_type):
            return None
        self._cursor += 1
        return _typed_assert(self, index, type)

    def no_more_events(self) -> None:
        """Fail if an event is left after the cursor."""
        __tracebackhide__ = True
        if self._cursor < len(self._events):
            self._fail(f"expected no more events, found {self._events[self._cursor]}")

    # ------------------------------------------------------------------ look without moving

    @overload
    def __getitem__(self, index: int) -> EventAssert: ...
    @overload
    def __getitem__(self, index: slice) -> EventRangeAssert: ...

    def __getitem__(self, index: int | slice) -> EventAssert | EventRangeAssert:
        __tracebackhide__ = True
        if isinstance(index, slice):
            return EventRangeAssert(self, index)
        n = len(self._events)
        if not -n <= index < n:
            self._fail(f"event index {index} is out of range ({n} events)")
        return EventAssert(self, index % n)

    def contains_message(self, *, role: ChatRole | None = None) -> ChatMessageAssert:
        return self[:].contains_message(role=role)

    def contains_function_call(
        self, *, name: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> FunctionCallAssert:
        return self[:].contains_function_call(name=name, arguments=arguments)

    def contains_function_call_output(
        self, *, output: str | None = None, is_error: bool | None = None
    ) -> FunctionCallOutputAssert:
        return self[:].contains_function_call_output(output=output, is_error=is_error)

    def contains_agent_handoff(
        self, *, new_agent_type: type[Agent] | None = None
    ) -> AgentHandoffAssert:
        return self[:].contains_agent_handoff(new_agent_type=new_agent_type)

    # ------------------------------------------------------------------ failures

    def _fail(self, message: str, *, index: int | None = None) -> NoReturn:
        __tracebackhide__ = True
        marker = self._cursor if index is None else index
        listing = _format_events(self._events, marker=marker, header=self._result._header())
        raise AssertionError(f"{message}\n{listing}")


def _mismatch(
    ev: RunEvent,
    type: RunEventType,
    role: ChatRole | None = None,
    name: str | None = None,
    arguments: Mapping[str, Any] | None = None,
    output: str | None = None,
    is_error: bool | None = None,
    new_agent_type: type[Agent] | None = None,
) -> str | None:
    if type == "message":
        return _message_mismatch(ev, role)
    if type == "function_call":
        return _function_call_mismatch(ev, name, arguments)
    if type == "function_call_output":
        return _function_call_output_mismatch(ev, output, is_error)
    return _agent_handoff_mismatch(ev, new_agent_type)


def _typed_assert(parent: RunAssert, index: int, type: RunEventType) -> Any:
    cls = {
        "message": ChatMessageAssert,
        "function_call": FunctionCallAssert,
        "function_call_output": FunctionCallOutputAssert,
        "agent_handoff": AgentHandoffAssert,
    }[type]
    return cls(parent, index)


class EventAssert:
    """One event, not yet known to be of any type: say which with `is_*`."""

    def __init__(self, parent: RunAssert, index: int) -> None:
        self._parent = parent
        self._index = index

    def event(self) -> RunEvent:
        return self._parent._events[self._index]

    def _check(self, mismatch: str | None) -> None:
        __tracebackhide__ = True
        if mismatch is not None:
            self._parent._fail(f"event [{self._index}]: {mismatch}", index=self._index)

    def is_message(self, *, role: ChatRole | None = None) -> ChatMessageAssert:
        __tracebackhide__ = True
        self._check(_message_mismatch(self.event(), role))
        return ChatMessageAssert(self._parent, self._index)

    def is_function_call(
        self, *, name: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> FunctionCallAssert:
        """`arguments` is a subset: only the keys given are compared to the parsed JSON."""
        __tracebackhide__ = True
        self._check(_function_call_mismatch(self.event(), name, arguments))
        return FunctionCallAssert(self._parent, self._index)

    def is_function_call_output(
        self, *, output: str | None = None, is_error: bool | None = None
    ) -> FunctionCallOutputAssert:
        __tracebackhide__ = True
        self._check(_function_call_output_mismatch(self.event(), output, is_error))
        return FunctionCallOutputAssert(self._parent, self._index)

    def is_agent_handoff(self, *, new_agent_type: type[Agent] | None = None) -> AgentHandoffAssert:
        __tracebackhide__ = True
        self._check(_agent_handoff_mismatch(self.event(), new_agent_type))
        return AgentHandoffAssert(self._parent, self._index)


_E = TypeVar("_E", bound="RunEvent")


class _EventAssert(Generic[_E]):
    """An assertion that passed on event `index`; `event()` and `item` give it back."""

    _event_type: type[_E]

    def __init__(self, parent: RunAssert, index: int) -> None:
        self._parent = parent
        self._index = index

    def event(self) -> _E:
        ev = self._parent._events[self._index]
        assert isinstance(ev, self._event_type)
        return ev


class ChatMessageAssert(_EventAssert[ChatMessageEvent]):
    _event_type = ChatMessageEvent

    @property
    def item(self) -> ChatMessage:
        return self.event().item

    async def judge(self, llm: LLM, *, intent: str) -> ChatMessageAssert:
        """Ask `llm` whether the message fulfils `intent` (it must call `check_intent`);
        fail with its reason if not. For what exact wording cannot capture."""
        __tracebackhide__ = True
        message = self.item.text_content or ""
        ctx = ChatContext.empty()
        ctx.add_message(role="system", content=_JUDGE_INSTRUCTIONS)
        ctx.add_message(role="user", content=format_judge_request(message=message, intent=intent))
        async with llm.chat(
            chat_ctx=ctx,
            tools=[_CHECK_INTENT],
            tool_choice={"type": "function", "function": {"name": _CHECK_INTENT.name}},
        ) as stream:
            _, calls = await stream.collect()
        call = next((c for c in calls if c.name == _CHECK_INTENT.name), None)
        if call is None:
            raise RuntimeError(
                f"the judge LLM did not call {_CHECK_INTENT.name}(success, reason); "
                f"it called {[c.name for c in calls]}"
            )
        verdict = _CHECK_INTENT.parse_arguments(call.arguments)
        success, reason = bool(verdict["success"]), str(verdict["reason"])
        if _verbose():
            print(
                f"judge {'PASS' if success else 'FAIL'} event [{self._index}] "
                f"intent={intent!r}: {reason}",
                flush=True,
            )
        if not success:
            self._parent._fail(
                f"event [{self._index}]: the judge found the message does not fulfil the "
                f"intent {intent!r}: {reason}",
                index=self._index,
            )
        return self


class FunctionCallAssert(_EventAssert[FunctionCallEvent]):
    _event_type = FunctionCallEvent

    @property
    def item(self) -> FunctionCall:
        return self.event().item


class FunctionCallOutputAssert(_EventAssert[FunctionCallOutputEvent]):
    _event_type = FunctionCallOutputEvent

    @property
    def item(self) -> FunctionCallOutput:
        return self.event().item


class AgentHandoffAssert(_EventAssert[AgentHandoffEvent]):
    _event_type = AgentHandoffEvent

    @property
    def item(self) -> AgentHandoff:
        return self.event().item


class EventRangeAssert:
    """Some of the events (`expect[1:3]`), searched in order by `contains_*`."""

    def __init__(self, parent: RunAssert, where: slice) -> None:
        self._parent = parent
        self._where = where
        self._indices = range(len(parent._events))[where]

    def _find(self, type: RunEventType, description: str, **filters: Any) -> Any:
        __tracebackhide__ = True
        for i in self._indices:
            if _mismatch(self._parent._events[i], type, **filters) is None:
                return _typed_assert(self._parent, i, type)
        wanted = ", ".join(f"{k}={v!r}" for k, v in filters.items() if v is not None)
        where = _format_slice(self._where)
        self._parent._fail(f"no {description}{f' with {wanted}' if wanted else ''} in {where}")

    def contains_message(self, *, role: ChatRole | None = None) -> ChatMessageAssert:
        __tracebackhide__ = True
        result: ChatMessageAssert = self._find("message", "message", role=role)
        return result

    def contains_function_call(
        self, *, name: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> FunctionCallAssert:
        __tracebackhide__ = True
        result: FunctionCallAssert = self._find(
            "function_call", "function_call", name=name, arguments=arguments
        )
        return result

    def contains_function_call_output(
        self, *, output: str | None = None, is_error: bool | None = None
    ) -> FunctionCallOutputAssert:
        __tracebackhide__ = True
        result: FunctionCallOutputAssert = self._find(
            "function_call_output", "function_call_output", output=output, is_error=is_error
        )
        return result

    def contains_agent_handoff(
        self, *, new_agent_type: type[Agent] | None = None
    ) -> AgentHandoffAssert:
        __tracebackhide__ = True
        result: AgentHandoffAssert = self._find(
            "agent_handoff", "agent_handoff", new_agent_type=new_agent_type
        )
        return result


def _format_slice(where: slice) -> str:
    if where == slice(None):
        return "the run's events"
    start = "" if where.start is None else str(where.start)
    stop = "" if where.stop is None else str(where.stop)
    step = "" if where.step is None else f":{where.step}"
    return f"events [{start}:{stop}{step}]"


# ================================================================================== judge

_JUDGE_INSTRUCTIONS = (
    "You evaluate a conversational agent in a test. You are shown one message the agent "
    "said and the intent it should fulfil. Answer only by calling "
    "check_intent(success, reason). Be strict: if the message does not clearly fulfil the "
    "intent, set success to false and say why."
)


def format_judge_request(*, message: str, intent: str) -> str:
    """The text `judge()` sends as the last user message: script a FakeLLM on it
    (`actions.add_llm("", tool_calls=[...check_intent...], input=format_judge_request(...))`).
    """
    return f"Intent:\n{intent}\n\nMessage:\n{message}"


async def _check_intent(success: bool, reason: str) -> None:
    """Report whether the message fulfils the intent.

    Args:
        success: True if the message clearly fulfils the intent.
        reason: One or two sentences explaining the verdict.
    """


_CHECK_INTENT: FunctionTool = function_tool(name="check_intent")(_check_intent)


# ================================================================================== mock_tools


class _ToolMock:
    """A replacement for one tool: called with the subset of the tool's arguments its
    signature names (all of them if it takes **kwargs)."""

    def __init__(self, agent_type: type[Agent], tool: FunctionTool, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"the mock for {tool.name!r} is not callable: {fn!r}")
        self.fn = fn
        tool_params = list(inspect.signature(tool.fn).parameters)[1:]  # a method: skip self
        self.names: set[str] | None = set()
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):  # no signature (some builtins): pass everything
            self.names = None
            return
        for p in params:
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                self.names = None
            elif p.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            elif p.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(
                    f"the mock for {agent_type.__name__}.{tool.name} has a positional-only "
                    f"parameter {p.name!r}; mocks are called with keyword arguments"
                )
            elif p.name not in tool_params:
                raise TypeError(
                    f"the mock for {agent_type.__name__}.{tool.name} takes {p.name!r}, which "
                    f"the tool does not have (its parameters: {', '.join(tool_params)})"
                )
            elif self.names is not None:
                self.names.add(p.name)

    async def invoke(
        self, tool: FunctionTool, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        names = list(inspect.signature(tool.fn).parameters)
        if tool.bound_to is not None:
            names = names[1:]
        arguments = dict(zip(names, args))
        arguments.update(kwargs)
        if self.names is not None:
            arguments = {k: v for k, v in arguments.items() if k in self.names}
        result = self.fn(**arguments)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Exception):
            raise result
        return result


_active_mocks: list[tuple[type[Agent], dict[str, _ToolMock]]] = []
_saved_call: Callable[..., Any] | None = None


def _mock_for(tool: FunctionTool) -> _ToolMock | None:
    for agent_type, mocks in reversed(_active_mocks):  # the innermost context wins
        if isinstance(tool.bound_to, agent_type) and tool.name in mocks:
            return mocks[tool.name]
    return None


async def _call_with_mocks(self: FunctionTool, *args: Any, **kwargs: Any) -> Any:
    mock = _mock_for(self)
    if mock is not None:
        return await mock.invoke(self, args, kwargs)
    assert _saved_call is not None
    return await _saved_call(self, *args, **kwargs)


def _class_tools(agent_type: type[Agent]) -> dict[str, FunctionTool]:
    tools: dict[str, FunctionTool] = {}
    for klass in reversed(agent_type.__mro__):  # subclasses override by name
        for value in vars(klass).values():
            if isinstance(value, FunctionTool):
                tools[value.name] = value
    return tools


@contextlib.contextmanager
def mock_tools(agent_type: type[Agent], mocks: Mapping[str, Callable[..., Any]]) -> Iterator[None]:
    """Replace what the named `@function_tool` methods of `agent_type` do, for every
    instance (also those created before), while the block runs.

    The model still sees the real schemas and its arguments are still validated against
    them; only the execution changes. A mock may take a subset of the tool's parameters
    (including the RunContext one) and be sync or async; returning an Exception instance
    is the same as raising it (e.g. `ToolError("not found")`)."""
    global _saved_call
    if not (isinstance(agent_type, type) and issubclass(agent_type, Agent)):
        raise TypeError(f"mock_tools needs an Agent subclass, got {agent_type!r}")
    known = _class_tools(agent_type)
    unknown = sorted(set(mocks) - set(known))
    if unknown:
        raise ValueError(
            f"{agent_type.__name__} has no tool(s) {unknown}; its tools: {sorted(known)}"
        )
    entry = (
        agent_type,
        {name: _ToolMock(agent_type, known[name], fn) for name, fn in mocks.items()},
    )
    if not _active_mocks:
        # existing agents hold bound copies of their tools, so only the shared call path
        # reaches them all; it is restored when the last mock_tools block exits
        _saved_call = FunctionTool.__call__
        FunctionTool.__call__ = _call_with_mocks  # type: ignore[method-assign]
    _active_mocks.append(entry)
    try:
        yield
    finally:
        _active_mocks[:] = [e for e in _active_mocks if e is not entry]
        if not _active_mocks and _saved_call is not None:
            FunctionTool.__call__ = _saved_call  # type: ignore[method-assign]
            _saved_call = None
