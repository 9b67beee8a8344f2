"""Pairwise preference between two responses, judged in both orders: :class:`PairwiseJudge`.

A judge shown two answers favours one position more often than chance. MT-Bench (Zheng et al.,
2023) therefore asks in both orders and calls a pair whose two verdicts disagree a tie; so does
this judge, and it says so (``inconsistent``), so a report can show how often it happens. The
word count of each response is recorded with the verdict, so a report can show whether the judge
prefers the longer answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from langchain_selfinstruct.evaluation.tasks import NO_INPUT
from langchain_selfinstruct.judges.base import CallUsage, JudgeBase
from langchain_selfinstruct.judges.verdict import MAX_RATIONALE_CHARS, Verdict, VerdictParser
from langchain_selfinstruct.parsers._text import fail
from langchain_selfinstruct.steps.generative import Attempts

__all__ = ["PairAnswer", "PairRequest", "PairVerdict", "PairwiseJudge", "word_count"]

Outcome = Literal["a", "b", "tie"]
_QUESTION = {"better": "Better reply"}
_CHOICES = ("1", "2", "tie")


def word_count(text: str) -> int:
    """Words in ``text``: the length the report relates to the judge's preference."""
    return len(text.split())


class PairRequest(BaseModel):
    """Two responses to the same task (the judge never sees which model wrote which)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str
    input: str = ""
    reference: str
    response_a: str
    response_b: str


class PairVerdict(BaseModel):
    """:class:`PairwiseJudge`'s output: the outcome for ``a`` against ``b``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    """``"a"`` or ``"b"`` when both orders agree on it, else ``"tie"``."""
    inconsistent: bool
    """The two orders disagreed (the outcome is then a tie)."""
    a_first: Outcome
    """The preference with ``a`` shown as reply 1."""
    b_first: Outcome
    """The preference with ``b`` shown as reply 1."""
    rationales: tuple[str, str]
    """The judge's reasons, in the order of the two calls."""
    length_a: int
    """Words in response ``a``."""
    length_b: int
    usage: CallUsage = CallUsage()
    """Both judge calls (retries included)."""


class PairAnswer(BaseModel):
    """The preference, for models with structured output."""

    better: Literal["1", "2", "tie"] = Field(description="The better reply: 1, 2 or tie")
    rationale: str = Field(description="A reason of a few words.")


def _from_structured(obj: Any) -> dict[str, Verdict]:
    try:
        answer = obj if isinstance(obj, PairAnswer) else PairAnswer.model_validate(obj)
    except ValueError as e:
        raise fail(f"Structured output is not a valid PairAnswer: {e}", str(obj)) from e
    rationale = answer.rationale.strip()[:MAX_RATIONALE_CHARS]
    return {"better": Verdict(verdict=answer.better, rationale=rationale)}


class PairwiseJudge(JudgeBase[PairRequest | Mapping[str, Any], PairVerdict]):
    """Which of two responses is better, asked in both orders (MT-Bench's rule for a split).

    Setup:
        Any LangChain chat or completion model; ``FakeSelfInstructLLM`` answers it offline
        (and, like a real weak judge, sometimes contradicts itself across the two orders).

    Instantiate / invoke:
        .. code-block:: python

            from langchain_selfinstruct import FakeSelfInstructLLM
            from langchain_selfinstruct.evaluation import PairwiseJudge

            verdict = PairwiseJudge(FakeSelfInstructLLM()).invoke(
                {
                    "instruction": "Add 2 and 3.",
                    "reference": "5",
                    "response_a": "5",
                    "response_b": "6",
                }
            )
            verdict.outcome, verdict.inconsistent

    Two judge calls per pair, both nested under the pair's run; a call that stays unparseable
    after its retries raises ``OutputParserException``.
    """

    name: str | None = "self_instruct.judge_pair"
    """Run name in callbacks and traces."""

    prompt_file: ClassVar[str] = "pairwise_judge.txt"
    prompt_variables: ClassVar[tuple[str, ...]] = (
        "instruction",
        "input",
        "reference",
        "response_1",
        "response_2",
    )

    _chain: Attempts[dict[str, Verdict]] = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)

    def _build(self) -> None:
        parser = VerdictParser(questions=_QUESTION, choices=_CHOICES)
        self._chain = self._verdict_chain(parser, PairAnswer, _from_structured)

    def invoke(
        self,
        input: PairRequest | Mapping[str, Any],
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> PairVerdict:
        """Judge both orders of one pair, in one run with the judge calls nested under it."""
        return self._call_with_config(self._judge, input, config)

    async def ainvoke(
        self,
        input: PairRequest | Mapping[str, Any],
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> PairVerdict:
        """Async :meth:`invoke`."""
        return await self._acall_with_config(self._ajudge, input, config)

    def _judge(
        self,
        input: PairRequest | Mapping[str, Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> PairVerdict:
        request = _request(input)
        first, usage_1 = self._call(self._chain, _variables(request, a_first=True), config)
        second, usage_2 = self._call(self._chain, _variables(request, a_first=False), config)
        return _combine(request, first["better"], second["better"], (usage_1, usage_2))

    async def _ajudge(
        self,
        input: PairRequest | Mapping[str, Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> PairVerdict:
        request = _request(input)
        first, usage_1 = await self._acall(self._chain, _variables(request, a_first=True), config)
        second, usage_2 = await self._acall(self._chain, _variables(request, a_first=False), config)
        return _combine(request, first["better"], second["better"], (usage_1, usage_2))


def _request(value: PairRequest | Mapping[str, Any]) -> PairRequest:
    request = value if isinstance(value, PairRequest) else PairRequest.model_validate(value)
    if not request.instruction.strip():
        raise ValueError("PairwiseJudge expects a non-empty instruction")
    return request


def _variables(request: PairRequest, *, a_first: bool) -> dict[str, Any]:
    a = request.response_a.strip() or "(empty)"
    b = request.response_b.strip() or "(empty)"
    return {
        "instruction": request.instruction.strip(),
        "input": request.input.strip() or NO_INPUT,
        "reference": request.reference.strip(),
        "response_1": a if a_first else b,
        "response_2": b if a_first else a,
    }


def _preference(verdict: Verdict, *, a_first: bool) -> Outcome:
    if verdict.verdict == "tie":
        return "tie"
    shown_first = verdict.verdict == "1"
    return "a" if shown_first == a_first else "b"


def _combine(
    request: PairRequest, first: Verdict, second: Verdict, usages: tuple[CallUsage, CallUsage]
) -> PairVerdict:
    a_first, b_first = _preference(first, a_first=True), _preference(second, a_first=False)
    agreed = a_first == b_first
    return PairVerdict(
        outcome=a_first if agreed else "tie",
        inconsistent=not agreed,
        a_first=a_first,
        b_first=b_first,
        rationales=(first.rationale, second.rationale),
        length_a=word_count(request.response_a),
        length_b=word_count(request.response_b),
        usage=CallUsage(
            **{
                name: getattr(usages[0], name) + getattr(usages[1], name)
                for name in CallUsage.model_fields
            }
        ),
    )
