"""The paper's four-level rating of a response (Wang et al., 2022, §4.4) as a Runnable.

The authors' raters saw the instruction, the input, the target output as a reference and a
model's response, and gave one of four ratings: A (valid and satisfying), B (acceptable with
minor imperfections), C (relevant but with significant errors), D (irrelevant or invalid, including
a copy of the input). :class:`ResponseGrader` asks any LangChain model for that rating with our
own wording of the scale (``prompts/response_grade.txt``), on the shared judge base.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from langchain_selfinstruct.evaluation.tasks import NO_INPUT, EvalItem
from langchain_selfinstruct.judges.base import CallUsage, JudgeBase
from langchain_selfinstruct.judges.verdict import MAX_RATIONALE_CHARS, Verdict, VerdictParser
from langchain_selfinstruct.parsers._text import fail
from langchain_selfinstruct.steps.generative import Attempts

__all__ = ["GRADES", "Grade", "GradeAnswer", "GradeRequest", "ResponseGrader"]

GRADES = ("A", "B", "C", "D")
"""The paper's rating levels, best first."""
GradeLetter = Literal["A", "B", "C", "D"]
_QUESTION = {"grade": "Grade"}


class GradeRequest(BaseModel):
    """What the judge sees: the task, the reference and one response (never the model's name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str
    input: str = ""
    reference: str
    response: str

    @classmethod
    def of(cls, item: EvalItem, response: str) -> GradeRequest:
        """The request for ``response`` to ``item``."""
        return cls(
            instruction=item.instruction,
            input=item.input,
            reference=item.reference,
            response=response,
        )


class Grade(BaseModel):
    """:class:`ResponseGrader`'s output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grade: GradeLetter
    rationale: str = ""
    usage: CallUsage = CallUsage()
    """What the judge call cost (retries included)."""


class GradeAnswer(BaseModel):
    """The grade, for models with structured output."""

    grade: GradeLetter = Field(
        description="A: correct and satisfying; B: usable with small slips; C: on topic but "
        "seriously wrong; D: off topic, empty, nonsense or a copy of the input"
    )
    rationale: str = Field(description="A reason of a few words.")


def _from_structured(obj: Any) -> dict[str, Verdict]:
    try:
        answer = obj if isinstance(obj, GradeAnswer) else GradeAnswer.model_validate(obj)
    except ValueError as e:
        raise fail(f"Structured output is not a valid GradeAnswer: {e}", str(obj)) from e
    rationale = answer.rationale.strip()[:MAX_RATIONALE_CHARS]
    return {"grade": Verdict(verdict=answer.grade, rationale=rationale)}


class ResponseGrader(JudgeBase[GradeRequest | Mapping[str, Any], Grade]):
    """Grade a response A, B, C or D against the task and its reference output (paper §4.4).

    Setup:
        Any LangChain chat or completion model; ``FakeSelfInstructLLM`` answers it offline
        with a seeded spread of grades.

    Key init args:
        llm: The judge model.
        max_retries: Resamples after an unparseable answer; default 2.
        cache: An LLM cache for the judge's calls (it decodes greedily).

    Instantiate / invoke:
        .. code-block:: python

            from langchain_selfinstruct import FakeSelfInstructLLM
            from langchain_selfinstruct.evaluation import ResponseGrader

            grader = ResponseGrader(FakeSelfInstructLLM())
            grade = grader.invoke(
                {"instruction": "Add 2 and 3.", "reference": "5", "response": "2 + 3 = 5"}
            )
            grade.grade, grade.rationale

    Input is a :class:`GradeRequest` or a mapping with its fields. The grade letter is read
    case-sensitively (``a`` is an article, not a grade); an answer that stays unparseable after
    the retries raises ``OutputParserException``.
    """

    name: str | None = "self_instruct.grade_response"
    """Run name in callbacks and traces."""

    prompt_file: ClassVar[str] = "response_grade.txt"
    prompt_variables: ClassVar[tuple[str, ...]] = ("instruction", "input", "reference", "response")

    _chain: Attempts[dict[str, Verdict]] = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)

    def _build(self) -> None:
        parser = VerdictParser(questions=_QUESTION, choices=GRADES, case_sensitive=True)
        self._chain = self._verdict_chain(parser, GradeAnswer, _from_structured)

    def invoke(
        self,
        input: GradeRequest | Mapping[str, Any],
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> Grade:
        """Grade one response, in one run with the judge calls nested under it."""
        return self._call_with_config(self._grade, input, config)

    async def ainvoke(
        self,
        input: GradeRequest | Mapping[str, Any],
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> Grade:
        """Async :meth:`invoke`."""
        return await self._acall_with_config(self._agrade, input, config)

    def _grade(
        self,
        input: GradeRequest | Mapping[str, Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Grade:
        verdicts, usage = self._call(self._chain, _variables(input), config)
        return _grade(verdicts, usage)

    async def _agrade(
        self,
        input: GradeRequest | Mapping[str, Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Grade:
        verdicts, usage = await self._acall(self._chain, _variables(input), config)
        return _grade(verdicts, usage)


def _grade(verdicts: dict[str, Verdict], usage: CallUsage) -> Grade:
    verdict = verdicts["grade"]
    return Grade.model_validate(
        {"grade": verdict.verdict, "rationale": verdict.rationale, "usage": usage}
    )


def _variables(value: GradeRequest | Mapping[str, Any]) -> dict[str, Any]:
    request = value if isinstance(value, GradeRequest) else GradeRequest.model_validate(value)
    if not request.instruction.strip():
        raise ValueError("ResponseGrader expects a non-empty instruction")
    return {
        "instruction": request.instruction.strip(),
        "input": request.input.strip() or NO_INPUT,
        "reference": request.reference.strip(),
        # An empty response is shown as such, so the judge can call it D.
        "response": request.response.strip() or "(empty)",
    }
