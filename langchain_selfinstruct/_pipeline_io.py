"""What the pipeline takes, keeps per run and tells callbacks, and how it prints itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import adispatch_custom_event
from langchain_core.runnables import RunnableConfig

# From typing_extensions, not typing: on Python < 3.12 pydantic refuses typing.TypedDict, and
# get_input_jsonschema, get_graph and as_tool all build the input's schema.
from typing_extensions import TypedDict

from langchain_selfinstruct.dedup import TokenizerName
from langchain_selfinstruct.loop import Budget, Pool
from langchain_selfinstruct.stats import RunStats

__all__ = [
    "PROGRESS_EVENT",
    "LoopState",
    "PipelineInput",
    "concurrency_of",
    "once",
    "progress",
    "resolve_tokenizer",
    "summarised",
    "target_of",
]

PROGRESS_EVENT = "self_instruct.progress"
_LONG = 5
"""Lists longer than this are summarised in ``repr``."""


class PipelineInput(TypedDict):
    """How many new tasks to accept."""

    num_instructions: int


@dataclass
class LoopState:
    """Mutable state of one run: the pool (with its index and sampler), the counters, the budget."""

    pool: Pool
    budget: Budget
    stats: RunStats = field(default_factory=RunStats)
    last_error: Exception | None = None
    """The last exception a step raised after its retries (``stats.last_error`` describes it)."""


def target_of(input: PipelineInput | Mapping[str, Any] | int) -> int:
    """The positive ``num_instructions`` of an input; ``ValueError`` otherwise."""
    value = input if isinstance(input, int) else input.get("num_instructions")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"num_instructions must be a positive integer, got {value!r}")
    return value


def concurrency_of(config: Mapping[str, Any], default: int) -> int:
    """The loop's width for one call: the standard ``config["max_concurrency"]`` when set.

    An explicit key in the call's config wins over the pipeline's ``max_concurrency`` field, as
    it does for ``Runnable.batch``; ``run()`` takes no config, so what it records in
    ``settings.json`` is always the field it runs with.
    """
    value = config.get("max_concurrency")
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"config['max_concurrency'] must be a positive integer, got {value!r}")
    return value


def resolve_tokenizer(explicit: TokenizerName | None, *owners: object) -> TokenizerName:
    """The one tokenizer a run uses: ``explicit``, else the one its index or filter was given.

    Raises:
        ValueError: Two of them were given different tokenizers.
    """
    given = {explicit} if explicit is not None else set()
    given |= {t for owner in owners if (t := getattr(owner, "tokenizer", None)) is not None}
    if len(given) > 1:
        raise ValueError(
            f"tokenizers differ ({', '.join(sorted(map(repr, given)))} among tokenizer=, index= "
            "and instruction_filter=): words must be counted and compared one way"
        )
    chosen = next(iter(given), "rouge")
    if chosen not in ("rouge", "unicode"):
        raise ValueError(f"tokenizer must be 'rouge' or 'unicode', got {chosen!r}")
    return chosen  # type: ignore[return-value]


async def once(value: PipelineInput) -> AsyncIterator[PipelineInput]:
    """``value`` as a one-item input stream."""
    yield value


async def progress(stats: RunStats, target: int, config: RunnableConfig) -> None:
    """Dispatch the ``self_instruct.progress`` custom event with the run's counters."""
    try:
        await adispatch_custom_event(
            PROGRESS_EVENT, {"target": target, **stats.to_dict()}, config=config
        )
    except RuntimeError:
        # Outside a traced run (no parent run id) there is nobody to tell.
        return


class _Summary:
    """Prints as given, without the quotes a ``str`` would get in ``repr``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def summarised(args: Iterable[tuple[str | None, Any]]) -> Iterable[tuple[str | None, Any]]:
    """Pydantic ``__repr_args__`` with long lists (175 seed tasks: 133 KB) counted, not printed."""
    for name, value in args:
        if isinstance(value, list) and len(value) > _LONG:
            kind = type(value[0]).__name__ if value else "item"
            yield name, _Summary(f"<{len(value)} {kind.lower()}s>")
        else:
            yield name, value
