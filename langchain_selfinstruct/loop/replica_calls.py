"""One unit of model work run away from the driver, and what it sends back (no Ray in here).

A remote executor (``ray_executor.py``) keeps the executor contract by shipping three things back
with each unit's result, all plain data:

- **usage**: a fresh :class:`~langchain_selfinstruct.stats.UsageTracker` counts the unit's calls
  where they happen; its totals travel as :class:`UsageCounts` and are added to the run's tracker
  before the unit is reported done;
- **the error chain**: pickling an exception drops ``__cause__`` and ``__context__``, and the loop
  reads both (``is_fatal_model_error`` stops a run on a refused key; ``describe_error`` names the
  innermost cause), so a failure travels as its chain and is relinked on the driver;
- **callback events**, only when the driver has callbacks besides its usage tracker: a
  :class:`CallRecorder` records every start, end and error event with its run ids, and
  :func:`replay` hands them to the driver's handlers, the unit's top runs parented to the run
  that submitted it. Every ``BaseTracer`` on the driver (``LangChainTracer`` for LangSmith too)
  then builds the same one tree as in process. Why not LangSmith's distributed-tracing headers
  (``RunTree.to_headers()`` and ``tracing_context(parent=...)`` on the replica): they reach
  LangSmith only, need its key and network on every node, and a tracer or callback on the
  driver (a test's, a user's ``astream_events``-free handler) would never see the runs.
  Replayed runs keep their ids, names, inputs and outputs; their timestamps are those of the
  replay (the driver cannot set a tracer's clock), so read durations on the replica's side.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager, Callbacks
from langchain_core.callbacks.manager import ahandle_event
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_selfinstruct.stats import UsageTracker

__all__ = [
    "CallContext",
    "CallRecorder",
    "RecordedEvent",
    "UnitReply",
    "UsageCounts",
    "driver_handlers",
    "pack_error",
    "replay",
    "run_unit",
    "unpack_error",
]


@dataclass(frozen=True)
class UsageCounts:
    """A usage tracker's totals, as plain numbers."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    errors: int = 0
    fallbacks: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, usage: UsageTracker) -> UsageCounts:
        """The totals ``usage`` has counted."""
        return cls(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.calls,
            usage.errors,
            dict(usage.fallbacks),
        )

    def add_to(self, usage: UsageTracker) -> None:
        """Count these totals in ``usage`` too."""
        usage.add(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            calls=self.calls,
            errors=self.errors,
            fallbacks=self.fallbacks,
        )


@dataclass(frozen=True)
class CallContext:
    """What a unit's run inherits from the driver: its tags, metadata, and whether to record."""

    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    record: bool = False


@dataclass(frozen=True)
class RecordedEvent:
    """One callback event: the handler method, the flag that lets a handler ignore it, its args."""

    name: str
    ignore: str | None
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


@dataclass(frozen=True)
class UnitReply:
    """A unit's result (or its packed failure), its usage and, when asked for, its events."""

    result: Any
    errors: tuple[tuple[BaseException, bool], ...] = ()
    """The failure's chain, outermost first, each with whether the next link is its cause."""
    usage: UsageCounts = field(default_factory=UsageCounts)
    events: tuple[RecordedEvent, ...] = ()
    endpoints: tuple[str, dict[str, dict[str, Any]]] | None = None
    """A routed replica's per-endpoint counts since it started, after the unit, under an id
    of that start (a restarted replica counts from zero again under a new one)."""


def _recorder(name: str, ignore: str | None) -> Any:
    def record(self: CallRecorder, *args: Any, **kwargs: Any) -> None:
        self.events.append(RecordedEvent(name, ignore, args, kwargs))

    record.__name__ = name
    return record


class CallRecorder(BaseCallbackHandler):
    """Records every chain, model, retry and custom event of a unit, in order, for :func:`replay`.

    Runs inline, so the order is the order the events happened in.
    """

    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self.events: list[RecordedEvent] = []

    on_chain_start = _recorder("on_chain_start", "ignore_chain")
    on_chain_end = _recorder("on_chain_end", "ignore_chain")
    on_chain_error = _recorder("on_chain_error", "ignore_chain")
    on_llm_start = _recorder("on_llm_start", "ignore_llm")
    on_chat_model_start = _recorder("on_chat_model_start", "ignore_chat_model")
    on_llm_end = _recorder("on_llm_end", "ignore_llm")
    on_llm_error = _recorder("on_llm_error", "ignore_llm")
    on_retry = _recorder("on_retry", "ignore_retry")
    on_custom_event = _recorder("on_custom_event", "ignore_custom_event")


def pack_error(error: BaseException) -> tuple[tuple[BaseException, bool], ...]:
    """``error`` and what caused it, outermost first, each link marked cause or context."""
    chain: list[tuple[BaseException, bool]] = []
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = current.__cause__
        context = None if current.__suppress_context__ else current.__context__
        chain.append((current, cause is not None))
        current = cause or context
    return tuple(chain)


def unpack_error(chain: Sequence[tuple[BaseException, bool]]) -> Exception:
    """Relink a chain made by :func:`pack_error` and return its outermost exception."""
    for (error, by_cause), (following, _) in itertools.pairwise(chain):
        if by_cause:
            error.__cause__ = following
        else:
            error.__context__ = following
    first = chain[0][0]
    if not isinstance(first, Exception):
        raise TypeError(f"a replica reported {type(first).__name__}, which is not an Exception")
    return first


async def run_unit(step: Runnable[Any, Any], payload: Any, context: CallContext) -> UnitReply:
    """Run one unit on this process's model, counting its usage and recording it if asked."""
    usage = UsageTracker()
    recorder = CallRecorder() if context.record else None
    # The async view, not the inline tracker: see UsageTracker (langchain-ai/langchain#39633).
    counter = usage.async_view()
    handlers: list[BaseCallbackHandler] = [counter] if recorder is None else [counter, recorder]
    config = RunnableConfig(
        callbacks=handlers, tags=list(context.tags), metadata=dict(context.metadata)
    )
    result: Any = None
    errors: tuple[tuple[BaseException, bool], ...] = ()
    try:
        result = await step.ainvoke(payload, config)
    except Exception as error:  # reported as the unit's result, as the contract says
        errors = pack_error(error)
    events = tuple(recorder.events) if recorder is not None else ()
    return UnitReply(result, errors, UsageCounts.of(usage), events)


def driver_handlers(
    callbacks: Callbacks, usage: UsageTracker
) -> tuple[list[BaseCallbackHandler], UUID | None, CallContext]:
    """What a remote executor needs from the driver's callbacks.

    Returns:
        The handlers to replay into (the usage tracker left out: usage comes back as counts),
        the run a unit's top runs hang under, and the context the replicas run with.
    """
    parent: UUID | None = None
    tags: list[str] = []
    metadata: dict[str, Any] = {}
    if isinstance(callbacks, BaseCallbackManager):
        handlers = list(callbacks.handlers)
        parent = callbacks.parent_run_id
        tags, metadata = list(callbacks.inheritable_tags), dict(callbacks.inheritable_metadata)
    else:
        handlers = list(callbacks or [])
    others = [h for h in handlers if h is not usage and h is not usage.async_view()]
    return others, parent, CallContext(tuple(tags), metadata, record=bool(others))


async def replay(
    events: Sequence[RecordedEvent], handlers: list[BaseCallbackHandler], parent: UUID | None
) -> None:
    """Hand recorded events to ``handlers`` in order, the unit's top runs under ``parent``."""
    for event in events:
        kwargs = dict(event.kwargs)
        if kwargs.get("parent_run_id") is None and event.name != "on_custom_event":
            kwargs["parent_run_id"] = parent
        await ahandle_event(handlers, event.name, event.ignore, *event.args, **kwargs)
