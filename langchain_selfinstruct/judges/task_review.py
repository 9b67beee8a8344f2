"""The paper's data review (Wang et al., 2022, §3, Table 2) as a Runnable: :class:`TaskReviewer`.

The authors sampled 200 generated instructions with one instance each and asked three questions:
does the instruction describe a valid task, is the input appropriate for it, and is the output a
correct and acceptable response. :class:`TaskReviewer` asks any LangChain model the same three
questions about every instance of a task; each answer is a verdict and a short reason.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from langchain_selfinstruct.judges.base import CallUsage, JudgeBase
from langchain_selfinstruct.judges.verdict import Verdict, VerdictParser
from langchain_selfinstruct.parsers._text import fail
from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps.generative import Attempts

__all__ = [
    "REVIEW_QUESTIONS",
    "InstanceReview",
    "ReviewAnswer",
    "TaskReview",
    "TaskReviewer",
]

REVIEW_QUESTIONS: dict[str, str] = {
    "valid_task": "Valid task",
    "appropriate_input": "Appropriate input",
    "acceptable_output": "Acceptable output",
}
"""Question key -> the label the judge answers on, in the paper's order (Table 2)."""
NO_INPUT = "(none)"
"""How an empty input is shown to the judge."""


class InstanceReview(BaseModel):
    """The judge's three answers about one instance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_index: int
    """Position of the instance in the task."""
    valid_task: Verdict
    """Does the instruction describe a valid task?"""
    appropriate_input: Verdict
    """Is the input appropriate for the instruction?"""
    acceptable_output: Verdict
    """Is the output a correct and acceptable response?"""
    usage: CallUsage = CallUsage()
    """What the judge call cost."""

    def verdict(self, question: str) -> Verdict:
        """The answer to one of :data:`REVIEW_QUESTIONS`."""
        if question not in REVIEW_QUESTIONS:
            known = list(REVIEW_QUESTIONS)
            raise KeyError(f"unknown question {question!r}; expected one of {known}")
        answer: Verdict = getattr(self, question)
        return answer

    @property
    def failed(self) -> list[str]:
        """The questions answered "no", in question order."""
        return [q for q in REVIEW_QUESTIONS if self.verdict(q).verdict != "yes"]


class TaskReview(BaseModel):
    """:class:`TaskReviewer`'s output: one review per instance, in task order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    instances: list[InstanceReview]

    @property
    def usage(self) -> CallUsage:
        """The summed usage of the task's judge calls."""
        return CallUsage(
            **{
                name: sum(getattr(r.usage, name) for r in self.instances)
                for name in CallUsage.model_fields
            }
        )


class _Answer(BaseModel):
    verdict: Literal["yes", "no"] = Field(description="yes or no")
    rationale: str = Field(description="One short sentence giving the reason.")


class ReviewAnswer(BaseModel):
    """The three answers of the review, for models with structured output."""

    valid_task: _Answer = Field(
        description="Can a text-only assistant carry out what the instruction asks?"
    )
    appropriate_input: _Answer = Field(
        description="Does the input fit the instruction (empty is right for self-contained ones)?"
    )
    acceptable_output: _Answer = Field(
        description="Is the output right, and an answer a careful person would accept?"
    )


def _from_structured(obj: Any) -> dict[str, Verdict]:
    try:
        answer = obj if isinstance(obj, ReviewAnswer) else ReviewAnswer.model_validate(obj)
    except ValueError as e:
        raise fail(f"Structured output is not a valid ReviewAnswer: {e}", str(obj)) from e
    return {
        key: Verdict(verdict=part.verdict, rationale=part.rationale.strip()[:300])
        for key, part in ((key, getattr(answer, key)) for key in REVIEW_QUESTIONS)
    }


class TaskReviewer(JudgeBase[Task, TaskReview]):
    """Ask a model the paper's three review questions about each instance of a task (Table 2).

    Setup:
        Any LangChain chat or completion model; ``FakeSelfInstructLLM`` answers it offline.

    Key init args:
        llm: The judge model.
        max_retries: Resamples after an unparseable answer; default 2.
        cache: An LLM cache for the judge's calls (it decodes greedily).

    Instantiate / invoke:
        .. code-block:: python

            from langchain_selfinstruct import FakeSelfInstructLLM, TaskReviewer

            review = TaskReviewer(FakeSelfInstructLLM()).invoke(task)
            review.instances[0].acceptable_output  # Verdict(verdict='no', rationale='...')

    Instances are reviewed one after the other (one model call each, so a unit of the loop still
    makes one call at a time); use ``batch`` / ``abatch`` over tasks for concurrency. A call that
    stays unparseable after its retries raises ``OutputParserException``.
    """

    name: str | None = "self_instruct.review_task"
    """Run name in callbacks and traces."""

    prompt_file: ClassVar[str] = "task_review.txt"
    prompt_variables: ClassVar[tuple[str, ...]] = ("instruction", "input", "output")

    _chain: Attempts[dict[str, Verdict]] = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)

    def _build(self) -> None:
        parser = VerdictParser(questions=REVIEW_QUESTIONS)
        self._chain = self._verdict_chain(parser, ReviewAnswer, _from_structured)

    def invoke(
        self, input: Task, config: RunnableConfig | None = None, **kwargs: Any
    ) -> TaskReview:
        """Review every instance of ``input``, in one run with the judge calls nested under it."""
        return self._call_with_config(self._review, input, config)

    async def ainvoke(
        self, input: Task, config: RunnableConfig | None = None, **kwargs: Any
    ) -> TaskReview:
        """Async :meth:`invoke`."""
        return await self._acall_with_config(self._areview, input, config)

    def _review(
        self, input: Task, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> TaskReview:
        reviews = []
        for index, instance in enumerate(input.instances):
            verdicts, usage = self._call(self._chain, _variables(input, instance), config)
            reviews.append(InstanceReview(instance_index=index, usage=usage, **verdicts))
        return TaskReview(task_id=input.id, instances=reviews)

    async def _areview(
        self, input: Task, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> TaskReview:
        reviews = []
        for index, instance in enumerate(input.instances):
            variables = _variables(input, instance)
            verdicts, usage = await self._acall(self._chain, variables, config)
            reviews.append(InstanceReview(instance_index=index, usage=usage, **verdicts))
        return TaskReview(task_id=input.id, instances=reviews)


def _variables(task: Task, instance: Instance) -> dict[str, Any]:
    instruction = task.instruction.strip()
    if not instruction:
        raise ValueError(f"task {task.id!r}: TaskReviewer expects a non-empty instruction")
    return {
        "instruction": instruction,
        "input": instance.input.strip() or NO_INPUT,
        "output": instance.output.strip(),
    }
