"""The judge base and TaskReviewer: constrained verdicts, retries, usage, structured output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.exceptions import OutputParserException
from rouge_score import rouge_scorer

from langchain_selfinstruct import FakeSelfInstructLLM, Instance, Task, TaskReviewer
from langchain_selfinstruct.judges import (
    REVIEW_QUESTIONS,
    ReviewAnswer,
    VerdictParser,
    seeded_index,
    seeded_sample,
    shuffle_positions,
)
from langchain_selfinstruct.resources import prompt_path
from tests.unit_tests.fakes import FakeStructuredChatModel, RecordingLLM, Script

PARSER = VerdictParser(questions=REVIEW_QUESTIONS)
FULL = (
    "Valid task: yes - clear request\n"
    "Appropriate input: no - the text to sort is missing\n"
    "Acceptable output: no. It repeats the input"
)
TASK = Task(
    id="t1",
    instruction="Sort the words below alphabetically.",
    instances=[Instance(input="pear apple", output="apple pear"), Instance(output="pear")],
)


def test_parser_reads_one_line_per_question_with_its_reason() -> None:
    verdicts = PARSER.parse(FULL)
    assert [v.verdict for v in verdicts.values()] == ["yes", "no", "no"]
    assert verdicts["appropriate_input"].rationale == "the text to sort is missing"
    assert verdicts["acceptable_output"].rationale == "It repeats the input"


def test_parser_takes_a_primed_answer_bold_and_numbering() -> None:
    text = " Yes - fine\n2. **Appropriate input:** YES\n3) acceptable output: No - wrong sum"
    verdicts = PARSER.parse(text)
    assert [v.verdict for v in verdicts.values()] == ["yes", "yes", "no"]
    assert verdicts["valid_task"].rationale == "fine"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Valid task: yes\nAppropriate input: yes",
            "Missing verdict line(s) for: Acceptable output",
        ),
        (
            "Valid task: maybe\nAppropriate input: yes\nAcceptable output: yes",
            "Valid task: expected",
        ),
        ("I think it is fine.", "Missing verdict line(s) for: Valid task"),
    ],
)
def test_parser_refuses_missing_and_unlisted_verdicts(text: str, message: str) -> None:
    with pytest.raises(
        OutputParserException, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        PARSER.parse(text)


def test_case_sensitive_choices_do_not_read_an_article_as_a_grade() -> None:
    grade = VerdictParser(
        questions={"grade": "Grade"}, choices=("A", "B", "C", "D"), case_sensitive=True
    )
    assert grade.parse("Grade: B - minor slip")["grade"].verdict == "B"
    with pytest.raises(OutputParserException):
        grade.parse("Grade: a fine answer")


def test_reviewer_asks_once_per_instance_greedily_and_counts_usage() -> None:
    model = RecordingLLM(
        script=Script([FULL, " no - vague\nAppropriate input: yes\nAcceptable output: yes"])
    )
    review = TaskReviewer(model).invoke(TASK)
    assert [r.failed for r in review.instances] == [
        ["appropriate_input", "acceptable_output"],
        ["valid_task"],
    ]
    assert [call.settings["temperature"] for call in model.log.calls] == [0.0, 0.0]
    assert "Input: (none)" in model.log.prompts[1]
    assert model.log.prompts[0].rstrip().endswith("Valid task:")
    assert review.usage.calls == 2


async def test_reviewer_resamples_garbage_within_its_bound() -> None:
    model = RecordingLLM(script=Script(["???", FULL]))
    review = await TaskReviewer(model).ainvoke(
        TASK.model_copy(update={"instances": TASK.instances[:1]})
    )
    assert review.instances[0].usage.calls == 2
    assert model.log.calls[1].settings["temperature"] == 0.7  # the steps' resampling


def test_reviewer_fails_after_its_retries() -> None:
    model = RecordingLLM(script=Script(["no idea"]))
    with pytest.raises(OutputParserException):
        TaskReviewer(model, max_retries=1).invoke(TASK)
    assert len(model.log.calls) == 2


def test_reviewer_uses_structured_output_where_the_model_has_it() -> None:
    answer = {
        "valid_task": {"verdict": "yes", "rationale": "ok"},
        "appropriate_input": {"verdict": "yes", "rationale": "ok"},
        "acceptable_output": {"verdict": "no", "rationale": "wrong order"},
    }
    model = FakeStructuredChatModel(script=Script(["unused"]), structured=Script([answer]))
    reviewer = TaskReviewer(model)
    assert reviewer.uses_structured_output
    review = reviewer.invoke(TASK.model_copy(update={"instances": TASK.instances[:1]}))
    assert review.instances[0].acceptable_output.rationale == "wrong order"
    assert set(model.schemas) == {ReviewAnswer}


def test_fake_model_answers_the_review_with_a_seeded_mix() -> None:
    tasks = [
        Task(
            id=f"t{i}",
            instruction=f"Describe river number {i} in one line.",
            instances=[Instance(output=f"River {i}.")],
        )
        for i in range(40)
    ]
    first = [TaskReviewer(FakeSelfInstructLLM(seed=4)).batch(tasks)]
    again = [TaskReviewer(FakeSelfInstructLLM(seed=4)).batch(tasks)]
    assert first == again
    verdicts = [r.instances[0].acceptable_output.verdict for r in first[0]]
    assert {"yes", "no"} <= set(verdicts)
    drawing = Task(
        id="d", instruction="Draw a picture of a cat.", instances=[Instance(output="A cat.")]
    )
    assert (
        TaskReviewer(FakeSelfInstructLLM()).invoke(drawing).instances[0].failed[0] == "valid_task"
    )


def test_positions_and_samples_are_fixed_by_seed_and_key_alone() -> None:
    order = shuffle_positions("task_7", 4, seed=3)
    assert order == shuffle_positions("task_7", 4, seed=3)
    assert sorted(order.order) == [0, 1, 2, 3]
    assert order.apply("abcd")[0] == "abcd"[order.original(0)]
    assert {shuffle_positions(f"k{i}", 2, 0).order for i in range(20)} == {(0, 1), (1, 0)}
    items = [f"task_{i}" for i in range(50)]
    small, large = seeded_sample(items, 10, 1, str), seeded_sample(items[::-1], 20, 1, str)
    assert large[:10] == small
    assert seeded_sample(items, 10, 2, str) != small
    assert seeded_index("task_3", 5, 0) == seeded_index("task_3", 5, 0)


PAPER_QUESTIONS = (
    "Does the instruction describe a valid task?",
    "Is the input appropriate for the instruction?",
    "Is the output a correct and acceptable response to the instruction and input?",
)


def test_review_prompt_is_our_own_wording(paper_seed_path: Path) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    text = prompt_path("task_review.txt").read_text(encoding="utf-8")
    sentences = [s for line in text.splitlines() for s in line.split("? ") if s.strip()]
    paper = list(PAPER_QUESTIONS)
    paper += [json.loads(line)["instruction"] for line in paper_seed_path.read_text().splitlines()]
    for sentence in sentences:
        best = max(scorer.score(sentence, other)["rougeL"].fmeasure for other in paper)
        assert best <= 0.6, sentence
