"""Run counters, token usage and cost for a Self-Instruct run.

Counters are written to ``stats.json`` beside the dataset after every round, so the report reads
them instead of recomputing anything.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from langchain_core.callbacks import (
    AsyncCallbackHandler,
    BaseCallbackHandler,
    BaseCallbackManager,
    Callbacks,
)
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

if TYPE_CHECKING:
    from langchain_core.messages.ai import UsageMetadata

__all__ = [
    "DEFAULT_PRICES",
    "FALLBACK_EVENT",
    "UNKNOWN_COST",
    "AsyncUsageView",
    "RunStats",
    "UsageTracker",
    "completion_generation",
    "format_cost",
    "price_for",
    "with_handler",
]

FALLBACK_EVENT = "self_instruct.fallback"
"""Custom event a step dispatches when it falls back: ``{"kind": "text_parser"}`` (a structured
step read a text answer with the text parser) or ``{"kind": "resample"}`` (it asked again)."""

DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-3.5-turbo-instruct": (1.50, 2.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "davinci-002": (2.00, 2.00),
    "babbage-002": (0.40, 0.40),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-sonnet-4": (3.00, 15.00),
    "embedded:": (0.0, 0.0),
}
"""USD per million (input, output) tokens, matched by longest prefix of the model name.

Indicative list prices; pass ``prices=`` to the pipeline to add or correct entries.
"""


UNKNOWN_COST = "unknown (no price for this model)"
"""How every display shows a cost of ``None``; ``stats.json`` and ``--json`` hold ``null``."""


def format_cost(cost_usd: float | None) -> str:
    """Show a cost the one way the summary, the progress bar and the report all use.

    Args:
        cost_usd: The estimate, or ``None`` when the model's price is unknown.

    Returns:
        ``"$0.0123"``, or :data:`UNKNOWN_COST`.
    """
    return UNKNOWN_COST if cost_usd is None else f"${cost_usd:,.4f}"


def price_for(
    model_name: str, prices: Mapping[str, tuple[float, float]] | None = None
) -> tuple[float, float] | None:
    """Return the (input, output) USD price per million tokens for a model, if known.

    Args:
        model_name: A name such as ``"openai:gpt-4o-mini"`` or ``"gpt-4o-mini"``.
        prices: Extra or overriding entries, merged over :data:`DEFAULT_PRICES`.

    Returns:
        The price pair of the longest matching prefix, or ``None`` when no entry matches.
    """
    table = {**DEFAULT_PRICES, **(prices or {})}
    bare = model_name.split(":", 1)[1] if ":" in model_name else model_name
    matches = [key for key in table if model_name.startswith(key) or bare.startswith(key)]
    if not matches:
        return None
    return table[max(matches, key=len)]


@dataclass
class RunStats:
    """Counters of one run: what was kept, what was rejected and why, what failed, what it cost."""

    accepted: int = 0
    """Tasks accepted into the pool during this run."""
    rounds: int = 0
    """Rounds reported: one per ``max_concurrency`` generations committed, plus the last one."""
    generated_instructions: int = 0
    """Candidate instructions parsed from the model, before filtering.

    Counts the generations committed before the run stopped; generations still in flight or
    waiting to be committed at the end are dropped with their candidates."""
    instances_kept: int = 0
    """Instances kept on accepted tasks."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Rejections by reason (``near_duplicate``, ``instance:empty_output``, ...)."""
    failures: Counter[str] = field(default_factory=Counter)
    """Steps that failed after their retries, by step name."""
    fallbacks: Counter[str] = field(default_factory=Counter)
    """Fallbacks taken by the steps: ``text_parser`` and ``resample`` (see FALLBACK_EVENT); and
    ``replica_retry``, a unit run again because its Ray replica died (loop/ray_executor.py)."""
    surplus: int = 0
    """Instructions that passed the filter but were not needed to reach the target."""
    prompt_tokens: int = 0
    """Prompt tokens reported by the model."""
    completion_tokens: int = 0
    """Completion tokens reported by the model."""
    model_calls: int = 0
    """Model calls that returned."""
    model_errors: int = 0
    """Model calls that raised (each retry counts)."""
    cost_usd: float | None = 0.0
    """Estimated cost; ``None`` when the model's price is unknown, also in a session that made no
    call (``0.0`` there means a known price)."""
    elapsed_s: float = 0.0
    """Wall time of this run in seconds."""
    stop_reason: str | None = None
    """Why it stopped: ``target``, ``max_cost``, ``max_tokens``, ``stalled``, ``model_error`` (a
    refused key or permission, which no retry fixes, or every replica benched) or
    ``interrupted``."""
    last_error: str | None = None
    """The last exception a step raised after its retries, as ``Type: first line`` of its
    innermost cause, credentials redacted; ``None`` when nothing failed."""
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per replica of a routed model (``--base-url`` given more than once), by name (its URL
    without credentials): ``requests``, ``errors``, ``benched_s``, ``benches``."""

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (counters as sorted plain dicts)."""
        return {
            "accepted": self.accepted,
            "rounds": self.rounds,
            "generated_instructions": self.generated_instructions,
            "instances_kept": self.instances_kept,
            "rejected": dict(sorted(self.rejected.items())),
            "failures": dict(sorted(self.failures.items())),
            "fallbacks": dict(sorted(self.fallbacks.items())),
            "surplus": self.surplus,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "model_calls": self.model_calls,
            "model_errors": self.model_errors,
            "cost_usd": self.cost_usd,
            "elapsed_s": round(self.elapsed_s, 3),
            "stop_reason": self.stop_reason,
            "last_error": self.last_error,
            "endpoints": self.endpoints,
        }


def completion_generation(
    text: str,
    *,
    model_name: str,
    prompt_tokens: int,
    completion_tokens: int,
    generation_info: Mapping[str, Any] | None = None,
) -> ChatGeneration:
    """A completion model's answer in the form langchain-core's usage handler reads.

    ``UsageMetadataCallbackHandler`` (and so ``get_usage_metadata_callback()``) reads usage only
    from an ``AIMessage`` in a ``ChatGeneration`` whose ``response_metadata`` names the model; a
    plain ``Generation`` with ``llm_output["token_usage"]``, which completion models return, is
    ignored. A ``ChatGeneration`` is a ``Generation`` whose ``text`` is the message's, so a
    ``BaseLLM`` may return one and still answer with a string.

    Args:
        text: The completion.
        model_name: Model name, the handler's key.
        prompt_tokens: Prompt tokens of this call.
        completion_tokens: Completion tokens of this answer.
        generation_info: ``finish_reason`` and the like; kept on the generation and the
            message's ``response_metadata``.

    Returns:
        The generation, for ``LLMResult.generations``.
    """
    info = dict(generation_info or {})
    # A cast, not the constructor: langchain-core 1.8's stubs call the optional detail keys
    # required, 1.7's do not.
    usage = cast(
        "UsageMetadata",
        {
            "input_tokens": prompt_tokens,
            "output_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    )
    message = AIMessage(
        content=text,
        usage_metadata=usage,
        response_metadata={**info, "model_name": model_name},
    )
    return ChatGeneration(message=message, generation_info=info or None)


class UsageTracker(BaseCallbackHandler):
    """Sum token usage and count model calls and errors across every step of a run.

    Chat models report ``AIMessage.usage_metadata``; completion models report
    ``llm_output["token_usage"]`` (OpenAI style), or usage metadata too when they answer with
    :func:`completion_generation`. All are read, and each call is counted once.

    It runs inline and ignores chain events: a synchronous handler that is not inline is sent
    every start and end event of every nested Runnable through the thread pool, which cost
    more CPU per model call than the rest of the step (benchmarks/README.md). Async runs use
    :meth:`async_view` instead, because an inline handler in an async run makes langchain-core
    skip ``on_llm_start`` for every handler that is not inline (langchain-ai/langchain#39633):
    a user's handler would see completion models end without starting.
    """

    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.calls = 0
        self.errors = 0
        self.fallbacks: Counter[str] = Counter()
        self._async_view: AsyncUsageView | None = None

    def async_view(self) -> AsyncUsageView:
        """The same counters as an async handler, for async runs (see the class docstring)."""
        if self._async_view is None:
            self._async_view = AsyncUsageView(self)
        return self._async_view

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Add the usage of one finished model call."""
        prompt, completion = _usage_of(response)
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        """Count a failed model call (a call cancelled because the run ended is not one)."""
        if isinstance(error, asyncio.CancelledError):
            return
        with self._lock:
            self.errors += 1

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        """Count a step's fallback (:data:`FALLBACK_EVENT`)."""
        if name == FALLBACK_EVENT and isinstance(data, dict):
            with self._lock:
                self.fallbacks[str(data.get("kind"))] += 1

    def add(
        self,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        calls: int = 0,
        errors: int = 0,
        fallbacks: Mapping[str, int] | None = None,
    ) -> None:
        """Add usage counted elsewhere (a remote replica's calls, sent back with its result)."""
        with self._lock:
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.calls += calls
            self.errors += errors
            self.fallbacks.update(fallbacks or {})

    @property
    def ignore_chain(self) -> bool:
        """Chain events carry no usage."""
        return True

    @property
    def ignore_agent(self) -> bool:
        """Agent events carry no usage."""
        return True

    @property
    def ignore_retriever(self) -> bool:
        """Retriever events carry no usage."""
        return True


class AsyncUsageView(AsyncCallbackHandler):
    """A :class:`UsageTracker`'s counters fed from async callbacks, awaited on the event loop.

    An async handler is awaited where it is, neither inline nor through the thread pool, so it
    costs as little as the inline tracker and leaves langchain-core's dispatch of
    ``on_llm_start`` to the caller's handlers intact.
    """

    def __init__(self, tracker: UsageTracker) -> None:
        super().__init__()
        self.tracker = tracker

    async def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Add the usage of one finished model call."""
        self.tracker.on_llm_end(response, **kwargs)

    async def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        """Count a failed model call."""
        self.tracker.on_llm_error(error, **kwargs)

    async def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        """Count a step's fallback."""
        self.tracker.on_custom_event(name, data, **kwargs)

    @property
    def ignore_chain(self) -> bool:
        """Chain events carry no usage."""
        return True

    @property
    def ignore_agent(self) -> bool:
        """Agent events carry no usage."""
        return True

    @property
    def ignore_retriever(self) -> bool:
        """Retriever events carry no usage."""
        return True


def _usage_of(response: LLMResult) -> tuple[int, int]:
    prompt = completion = 0
    for generations in response.generations:
        for generation in generations:
            if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
                usage = generation.message.usage_metadata
                if usage:
                    prompt += usage["input_tokens"]
                    completion += usage["output_tokens"]
    if prompt or completion:
        return prompt, completion
    token_usage = (response.llm_output or {}).get("token_usage") or {}
    return int(token_usage.get("prompt_tokens", 0)), int(token_usage.get("completion_tokens", 0))


def with_handler(callbacks: Callbacks, handler: BaseCallbackHandler) -> Callbacks:
    """``callbacks`` plus ``handler``, inherited by every child run; the caller's are kept."""
    if callbacks is None:
        return [handler]
    if isinstance(callbacks, list):
        return [*callbacks, handler]
    manager: BaseCallbackManager = callbacks.copy()
    manager.add_handler(handler, inherit=True)
    return manager
