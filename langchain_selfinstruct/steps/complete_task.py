"""Steps 2 to 4 for one new instruction: classify, generate instances, filter them, give a verdict.

:class:`CompleteTask` is what the loop runs for every instruction that passed the instruction
filter, and a Runnable of its own for LCEL: ``InstructionFilter | first kept | CompleteTask``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from langchain_core.caches import BaseCache
from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from pydantic import ConfigDict, PrivateAttr

from langchain_selfinstruct.presets import PresetOrName, get_preset
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps.classification import ClassificationIdentifier
from langchain_selfinstruct.steps.filter_results import InstanceFilterResult
from langchain_selfinstruct.steps.instance_filter import InstanceFilter
from langchain_selfinstruct.steps.instance_generation import InstanceGenerator
from langchain_selfinstruct.steps.judged_rule import JudgedInstanceRule, apply_judged_rule

__all__ = ["CompleteTask", "StepFailedError"]

T = TypeVar("T")


class StepFailedError(RuntimeError):
    """A step of :class:`CompleteTask` failed after its retries; ``stage`` names the step."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage} failed: {type(cause).__name__}: {cause}")
        self.stage = stage


class CompleteTask(RunnableSerializable[str | Task, InstanceFilterResult]):
    """Complete one instruction into a task, or say why it cannot be one (paper §2.2-§2.4).

    Asks whether the instruction is a classification task (§2.2), generates instances
    output-first or input-first accordingly (§2.3), and filters them (§2.4). The verdict is the
    instance filter's result: the task with its kept instances, or ``None`` with
    ``task_reason``, plus every dropped instance with its reason and the counts.

    It adds no traced run of its own: the three steps inside are traced under their own names
    (``self_instruct.identify_classification``, ...), and one more run per candidate would cost
    more CPU than the instance filter does.

    Example:
        .. code-block:: python

            verdict = CompleteTask(llm, preset="fast").invoke("Sort these words alphabetically.")
            verdict.task, verdict.rejected, verdict.stats

    Raises:
        StepFailedError: Classification or instance generation failed after its retries.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str | None = "self_instruct.complete_task"
    """Run name in callbacks and traces; default ``"self_instruct.complete_task"``."""
    llm: Runnable[Any, Any]
    """The model for classification and instance generation."""
    preset: PresetOrName = get_preset("faithful")
    """Sampling parameters and paper constants, or a preset name; default ``faithful``."""
    instance_filter: InstanceFilter | None = None
    """The instance filter; default: the paper's rules with the preset's ``max_instances``."""
    classification_cache: BaseCache | None = None
    """Cache for the deterministic classification step only; instance generation samples and is
    never cached, even under a global LLM cache."""
    judged_rule: JudgedInstanceRule | None = None
    """A model-backed instance rule (``--curate``: a ``CurationRule`` over a ``TaskReviewer``),
    run on the instances the paper's rules kept; default none.

    It runs here, inside the candidate's unit of work and before the loop commits the outcome, so
    the loop's order is untouched: outcomes are still committed in candidate order whatever the
    judge's latency, and a deterministic judge (temperature 0) gives the same kept set every run.
    Its calls count in the run's usage like every other step's. A judge that fails after its
    retries fails the candidate (``step_failed`` at stage ``judge_instances``): an unjudged task
    is never accepted."""

    _classifier: ClassificationIdentifier = PrivateAttr()
    _instances: InstanceGenerator = PrivateAttr()
    _filter: InstanceFilter = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm=llm, **kwargs)  # type: ignore[call-arg]

    def model_post_init(self, context: Any, /) -> None:
        """Build the three steps."""
        super().model_post_init(context)
        preset = self.preset
        self._classifier = ClassificationIdentifier(
            self.llm, preset=preset, cache=self.classification_cache
        )
        self._instances = InstanceGenerator(self.llm, preset=preset)
        self._filter = self.instance_filter or InstanceFilter(max_instances=preset.max_instances)

    def get_prompts(self, config: RunnableConfig | None = None) -> list[BasePromptTemplate[Any]]:
        """The prompts of classification (§2.2) and instance generation (§2.3)."""
        return [*self._classifier.get_prompts(), *self._instances.get_prompts()]

    def invoke(
        self, input: str | Task, config: RunnableConfig | None = None, **kwargs: Any
    ) -> InstanceFilterResult:
        """Classify, generate instances and filter them for one instruction."""
        # One run for the three steps, so a run_name from with_config names it alone and the
        # steps' runs nest under it.
        return self._call_with_config(self._run, input, config)

    async def ainvoke(
        self, input: str | Task, config: RunnableConfig | None = None, **kwargs: Any
    ) -> InstanceFilterResult:
        """Async :meth:`invoke`."""
        return await self._acall_with_config(self._arun, input, config)

    def _run(
        self, input: str | Task, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> InstanceFilterResult:
        draft = _draft(input)
        try:
            draft.is_classification = self._classifier.invoke(draft.instruction, config)
        except Exception as e:
            raise StepFailedError("identify_classification", e) from e
        try:
            draft.instances = list(self._instances.invoke(draft, config))
        except Exception as e:
            raise StepFailedError("generate_instances", e) from e
        result = self._filter.apply(draft, config)
        if self.judged_rule is None or result.task is None:
            return result
        try:
            hits = self.judged_rule.judge(result.task, config)
        except Exception as e:
            raise StepFailedError("judge_instances", e) from e
        return apply_judged_rule(result, hits)

    async def _arun(
        self,
        input: str | Task,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> InstanceFilterResult:
        draft = _draft(input)
        classified = self._classifier.ainvoke(draft.instruction, config)
        draft.is_classification = await _stage("identify_classification", classified)
        instances = await _stage("generate_instances", self._instances.ainvoke(draft, config))
        draft.instances = list(instances)
        # Synchronously, on the event loop: the rules take microseconds, and the async callback
        # path (or a thread-pool hop) costs more CPU per candidate than the filter itself
        # (benchmarks/README.md, Loop (3)). Async callback handlers still see the run.
        result = self._filter.apply(draft, config)
        if self.judged_rule is None or result.task is None:
            return result
        hits = await _stage("judge_instances", self.judged_rule.ajudge(result.task, config))
        return apply_judged_rule(result, hits)


def _draft(input: str | Task) -> Task:
    if isinstance(input, Task):
        return input.model_copy()
    return Task(id="pending", instruction=input)


async def _stage(stage: str, awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except Exception as e:
        raise StepFailedError(stage, e) from e
