"""ResponseGrader, PairwiseJudge and ResponseAnswerer: every grade, garbage, inconsistency, LCEL."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.runnables import RunnableConfig
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from langchain_selfinstruct import FakeSelfInstructLLM
from langchain_selfinstruct.evaluation import (
    GRADES,
    GradeAnswer,
    GradeRequest,
    PairRequest,
    PairwiseJudge,
    ResponseAnswerer,
    ResponseGrader,
    load_eval_items,
)
from tests.unit_tests.fakes import FakeStructuredChatModel, RecordingLLM, Script

REQUEST = GradeRequest(
    instruction="Convert 3 km to metres.", input="", reference="3000 m", response="3,000 metres"
)
PAIR = PairRequest(
    instruction="Name the capital of Peru.",
    reference="Lima",
    response_a="Lima is the capital of Peru.",
    response_b="Cusco",
)


@pytest.mark.parametrize("grade", GRADES)
def test_the_grader_returns_each_grade_with_its_reason(grade: str) -> None:
    model = RecordingLLM(script=Script([f" {grade} - reason for {grade}"]))
    result = ResponseGrader(model).invoke(REQUEST)
    assert result.grade == grade
    assert result.rationale == f"reason for {grade}"
    assert result.usage.calls == 1
    prompt = model.log.prompts[0]
    assert prompt.rstrip().endswith("Grade:")
    assert "Material: (none)" in prompt and "Good reply: 3000 m" in prompt
    assert "Assistant's reply: 3,000 metres" in prompt
    assert model.log.calls[0].settings["temperature"] == 0.0


def test_the_grader_takes_a_mapping_and_a_labelled_line() -> None:
    model = RecordingLLM(script=Script(["Grade: **C** - wrong unit"]))
    result = ResponseGrader(model).invoke(REQUEST.model_dump())
    assert (result.grade, result.rationale) == ("C", "wrong unit")


def test_garbage_is_resampled_within_the_bound_then_fails() -> None:
    model = RecordingLLM(script=Script(["a fine answer", "E - no such grade", " B - ok"]))
    result = ResponseGrader(model).invoke(REQUEST)
    assert result.grade == "B" and result.usage.calls == 3
    stuck = RecordingLLM(script=Script(["I like it"]))
    with pytest.raises(OutputParserException):
        ResponseGrader(stuck, max_retries=1).invoke(REQUEST)
    assert len(stuck.log.calls) == 2  # bounded: the first call and one resample


def test_the_grader_uses_structured_output_where_the_model_has_it() -> None:
    answer = {"grade": "D", "rationale": "copies the input"}
    model = FakeStructuredChatModel(script=Script(["unused"]), structured=Script([answer]))
    grader = ResponseGrader(model)
    assert grader.uses_structured_output
    assert grader.invoke(REQUEST).grade == "D"
    assert set(model.schemas) == {GradeAnswer}


@pytest.mark.parametrize(
    ("first", "second", "outcome", "inconsistent"),
    [
        ("1 - right city", "2 - right city", "a", False),  # a wins in both orders
        ("2 - wrong", "1 - wrong", "b", False),  # b wins in both orders
        ("tie - both fine", "tie - both fine", "tie", False),
        ("1 - first is better", "1 - first is better", "tie", True),  # position bias
        ("1 - a", "tie - same", "tie", True),
    ],
)
def test_pairwise_judges_both_orders_and_a_split_is_a_counted_tie(
    first: str, second: str, outcome: str, inconsistent: bool
) -> None:
    model = RecordingLLM(script=Script([f" {first}", f" {second}"]))
    verdict = PairwiseJudge(model).invoke(PAIR)
    assert (verdict.outcome, verdict.inconsistent) == (outcome, inconsistent)
    shown_first = [p.split("Reply 1: ")[-1].split("\n")[0] for p in model.log.prompts]
    assert shown_first == [PAIR.response_a, PAIR.response_b]
    assert (verdict.length_a, verdict.length_b) == (6, 1)
    assert verdict.usage.calls == 2


def test_pairwise_garbage_fails_after_its_retries() -> None:
    model = RecordingLLM(script=Script(["both are nice"]))
    with pytest.raises(OutputParserException):
        PairwiseJudge(model, max_retries=2).invoke(PAIR)
    assert len(model.log.calls) == 3


def test_the_answerer_resamples_an_empty_reply_and_caps_tokens() -> None:
    model = RecordingLLM(script=Script(["   ", " 3000 metres\nRequest: next one"]))
    answer = ResponseAnswerer(model).invoke(load_eval_items()[0])
    assert answer.text == "3000 metres"  # cut at the next invented request
    assert answer.usage.calls == 2
    assert model.log.calls[0].settings["max_tokens"] == 384
    assert "Request: Turn these notes" in model.log.prompts[0]


def test_fake_judges_give_a_spread_of_grades_and_some_inconsistent_pairs() -> None:
    items = load_eval_items()[:60]
    llm = FakeSelfInstructLLM(seed=3)
    answers = ResponseAnswerer(llm).batch(items)
    assert sum(a.text.strip() == i.input.strip() for a, i in zip(answers, items, strict=True)) > 0
    grades = ResponseGrader(llm).batch(
        [GradeRequest.of(i, a.text) for i, a in zip(items, answers, strict=True)]
    )
    assert set(Counter(g.grade for g in grades)) == set(GRADES)
    perfect = ResponseGrader(FakeSelfInstructLLM(seed=3)).batch(
        [GradeRequest.of(i, i.reference) for i in items]
    )
    share_ab = sum(g.grade in "AB" for g in perfect) / len(perfect)
    assert share_ab > sum(g.grade in "AB" for g in grades) / len(grades)
    pairs = PairwiseJudge(llm).batch(
        [
            PairRequest(
                instruction=i.instruction,
                input=i.input,
                reference=i.reference,
                response_a=i.reference,
                response_b=a.text,
            )
            for i, a in zip(items, answers, strict=True)
        ]
    )
    outcomes = Counter(p.outcome for p in pairs)
    assert outcomes["a"] > 0.8 * len(pairs)  # the reference beats the fake's reply
    others = ResponseAnswerer(FakeSelfInstructLLM(seed=4)).batch(items)
    close = PairwiseJudge(llm).batch(
        [
            PairRequest(
                instruction=i.instruction,
                input=i.input,
                reference=i.reference,
                response_a=a.text,
                response_b=b.text,
            )
            for i, a, b in zip(items, answers, others, strict=True)
        ]
    )
    # Two replies of like quality: a weak judge's position bias splits some pairs.
    assert 0 < sum(p.inconsistent for p in close) < len(close)
    assert all(p.outcome == "tie" for p in close if p.inconsistent)


class Collector(BaseTracer):
    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.roots.append(run)


def _walk(run: Run) -> list[Run]:
    return [run, *(d for child in run.child_runs for d in _walk(child))]


def _llm_runs(run: Run) -> list[Run]:
    return [r for r in _walk(run) if r.run_type == "llm"]


def test_batch_gives_one_run_per_item_with_its_model_runs_nested() -> None:
    collector = Collector()
    config: RunnableConfig = {"callbacks": [collector]}
    requests: list[Any] = [REQUEST, REQUEST.model_copy(update={"response": "3 m"})]
    grades = ResponseGrader(RecordingLLM(script=Script([" A - ok", " C - wrong"]))).batch(
        requests, config
    )
    assert [g.grade for g in grades] in (["A", "C"], ["C", "A"])
    assert [r.name for r in collector.roots] == ["self_instruct.grade_response"] * 2
    assert all(len(_llm_runs(root)) == 1 for root in collector.roots)


def test_pairwise_is_one_run_over_its_two_judge_calls_and_with_config_names_it() -> None:
    collector = Collector()
    judge = PairwiseJudge(RecordingLLM(script=Script([" 1 - a", " 2 - a"])))
    named = judge.with_config(run_name="my_pair", tags=["eval"])
    named.invoke(PAIR, {"callbacks": [collector]})
    (root,) = collector.roots
    assert root.name == "my_pair" and "eval" in (root.tags or [])
    assert len(_llm_runs(root)) == 2


async def test_answerer_abatch_nests_its_model_run() -> None:
    collector = Collector()
    items = load_eval_items()[:3]
    answers = await ResponseAnswerer(FakeSelfInstructLLM()).abatch(
        items, {"callbacks": [collector]}
    )
    assert len(answers) == 3 and all(a.text for a in answers)
    assert sorted(r.name for r in collector.roots) == ["self_instruct.eval_answer"] * 3
    assert all(len(_llm_runs(root)) == 1 for root in collector.roots)
