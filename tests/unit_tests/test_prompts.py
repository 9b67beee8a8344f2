"""Tests for the shipped prompt templates under prompts/ and their loading.

Each template is rendered with fixed inputs and compared with a snapshot under
``tests/unit_tests/snapshots/prompts/`` so that any wording change shows up in review. After an
intended change, regenerate with ``UPDATE_SNAPSHOTS=1 pytest tests/unit_tests/test_prompts.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from rouge_score import rouge_scorer

from langchain_selfinstruct.parsers import InstanceParser
from langchain_selfinstruct.resources import prompt_path
from langchain_selfinstruct.steps.prompt_loading import coerce_prompt, default_prompt

SNAPSHOTS = Path(__file__).parent / "snapshots" / "prompts"
REPO_ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = [
    "Describe the water cycle in three sentences.",
    "Give a synonym for the word below.",
    "Is the email below a sales pitch? Answer yes or no.",
    "Turn the list of ingredients into a shopping list grouped by aisle.",
    "Write a short toast for a friend's wedding.",
    "Explain what a mortgage is to a teenager.",
    "Find the odd one out in the list of words.",
    "Summarize the movie plot in one sentence.",
]
TARGET = "Sort the words in alphabetical order."
VARIABLES: dict[str, Any] = {
    "instructions": "\n".join(f"{n}. {text}" for n, text in enumerate(EXAMPLES, start=1)),
    "next_number": 9,
    "num_instructions": 8,
    "instruction": TARGET,
    "max_instances": 5,
}
EXPECTED_VARIABLES = {
    "instruction_generation.completion.txt": {"instructions", "next_number"},
    "instruction_generation.chat.txt": {"instructions", "num_instructions"},
    "classification.completion.txt": {"instruction"},
    "classification.chat.txt": {"instruction"},
    "instances_input_first.completion.txt": {"instruction"},
    "instances_input_first.chat.txt": {"instruction", "max_instances"},
    "instances_output_first.completion.txt": {"instruction"},
    "instances_output_first.chat.txt": {"instruction", "max_instances"},
}
CLASSIFICATION_DEMO = re.compile(r"^Task: (.+)\nIs it classification\? (Yes|No)$", re.MULTILINE)


def render(name: str) -> str:
    template = default_prompt(name)
    return template.format(**{k: v for k, v in VARIABLES.items() if k in template.input_variables})


def demo_blocks(text: str) -> list[str]:
    """The few-shot task blocks of an instance prompt, without the final target task."""
    assert f"\nTask: {TARGET}\n" in text
    blocks = text.split("\n\n")
    return [b for b in blocks if b.startswith("Task: ") and not b.startswith(f"Task: {TARGET}")]


def split_demo(block: str) -> tuple[str, str]:
    first, _, body = block.partition("\n")
    return first.removeprefix("Task: "), body


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIABLES))
def test_template_matches_snapshot(name: str) -> None:
    rendered = render(name)
    snapshot = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(rendered, encoding="utf-8")
    assert snapshot.is_file(), f"missing snapshot {snapshot}; run with UPDATE_SNAPSHOTS=1"
    assert rendered == snapshot.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED_VARIABLES.items()))
def test_template_variables(name: str, expected: set[str]) -> None:
    assert set(default_prompt(name).input_variables) == expected


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIABLES))
def test_rendering_leaves_no_braces(name: str) -> None:
    rendered = render(name)
    assert "{" not in rendered
    assert "}" not in rendered


def test_instruction_completion_prompt_continues_the_list() -> None:
    rendered = render("instruction_generation.completion.txt")
    header, *items = rendered.split("\n")
    assert not re.match(r"\d", header)
    assert items[:8] == [f"{n}. {text}" for n, text in enumerate(EXAMPLES, start=1)]
    assert items[8:] == ["9."]


def test_instruction_chat_prompt_asks_for_a_numbered_list() -> None:
    rendered = render("instruction_generation.chat.txt")
    assert VARIABLES["instructions"] in rendered
    assert "8 new tasks" in rendered
    assert "numbered list" in rendered


def classification_demos(name: str) -> list[tuple[str, str]]:
    return CLASSIFICATION_DEMO.findall(render(name))


@pytest.mark.parametrize("name", ["classification.completion.txt", "classification.chat.txt"])
def test_classification_demos_are_many_and_balanced(name: str) -> None:
    demos = classification_demos(name)
    assert len(demos) >= 20
    yes_share = sum(answer == "Yes" for _, answer in demos) / len(demos)
    assert 0.35 <= yes_share <= 0.45
    assert len({task for task, _ in demos}) == len(demos)
    assert TARGET not in {task for task, _ in demos}


def test_classification_variants_share_their_demos() -> None:
    assert classification_demos("classification.completion.txt") == classification_demos(
        "classification.chat.txt"
    )


def test_classification_completion_prompt_ends_with_the_question() -> None:
    assert render("classification.completion.txt").endswith(
        f"\nTask: {TARGET}\nIs it classification?"
    )


def test_classification_chat_prompt_asks_for_one_word() -> None:
    tail = render("classification.chat.txt").rsplit("\n\nNow judge this task:", 1)[1]
    assert tail == f"\n\nTask: {TARGET}\n\nIs it a classification task? Reply with only Yes or No."


@pytest.mark.parametrize("mode", ["input_first", "output_first"])
def test_instance_completion_prompts_end_with_the_task(mode: str) -> None:
    assert render(f"instances_{mode}.completion.txt").endswith(f"\nTask: {TARGET}\n")


@pytest.mark.parametrize(
    ("mode", "start"), [("input_first", "Example 1"), ("output_first", "Class label:")]
)
def test_instance_chat_prompts_end_with_the_task_and_the_format(mode: str, start: str) -> None:
    rendered = render(f"instances_{mode}.chat.txt")
    ending = f'\nTask: {TARGET}\n\nReply in the format above, starting with "{start}".'
    assert rendered.endswith(ending)


@pytest.mark.parametrize("mode", ["input_first", "output_first"])
def test_instance_variants_share_their_demos(mode: str) -> None:
    completion = demo_blocks(render(f"instances_{mode}.completion.txt"))
    chat = demo_blocks(render(f"instances_{mode}.chat.txt"))
    assert completion == chat


@pytest.mark.parametrize("kind", ["completion", "chat"])
def test_input_first_demos_parse_and_include_input_free_tasks(kind: str) -> None:
    demos = demo_blocks(render(f"instances_input_first.{kind}.txt"))
    assert len(demos) >= 8
    parser = InstanceParser(mode="input_first")
    input_free = 0
    for block in demos:
        _, body = split_demo(block)
        instances = parser.parse(body)
        # A demo past the limit would trip the paper's "Example 6" stop inside the prompt.
        assert 1 <= len(instances) <= 5
        assert body.count("Example ") == len(instances)
        assert all(instance.output for instance in instances)
        has_input = "\nInput: " in f"\n{body}"
        assert all(bool(instance.input) == has_input for instance in instances)
        input_free += not has_input
    assert input_free >= 3


@pytest.mark.parametrize("kind", ["completion", "chat"])
def test_output_first_demos_parse_with_several_labels(kind: str) -> None:
    demos = demo_blocks(render(f"instances_output_first.{kind}.txt"))
    assert len(demos) >= 8
    parser = InstanceParser(mode="output_first")
    for block in demos:
        _, body = split_demo(block)
        instances = parser.parse(body)
        assert 2 <= len(instances) <= 5
        assert len({instance.output for instance in instances}) >= 2
        assert all(instance.input for instance in instances)


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIABLES))
def test_stop_sequences_do_not_fire_inside_demos(name: str) -> None:
    rendered = render(name)
    assert "Example 6" not in rendered
    assert all(line.startswith("Task: ") for line in rendered.splitlines() if "Task:" in line)


def all_demo_tasks() -> list[str]:
    tasks = [task for task, _ in classification_demos("classification.completion.txt")]
    for mode in ("input_first", "output_first"):
        blocks = demo_blocks(render(f"instances_{mode}.completion.txt"))
        tasks.extend(split_demo(block)[0] for block in blocks)
    return tasks


def assert_distinct(ours: list[str], theirs: list[str]) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    for text in ours:
        best = max(theirs, key=lambda other: scorer.score(text, other)["rougeL"].fmeasure)
        score = scorer.score(text, best)["rougeL"].fmeasure
        assert score <= 0.7, f"demo {text!r} is too close to {best!r} ({score:.2f})"


def test_demos_are_not_the_papers_seed_tasks(paper_seed_path: Path) -> None:
    lines = paper_seed_path.read_text(encoding="utf-8").splitlines()
    paper = [json.loads(line)["instruction"] for line in lines if line.strip()]
    assert_distinct(all_demo_tasks(), paper)


def test_demos_differ_from_our_seed_tasks() -> None:
    seeds = REPO_ROOT / "seeds" / "seed_tasks.jsonl"
    if not seeds.is_file():
        pytest.skip("seeds/seed_tasks.jsonl not written yet")
    lines = seeds.read_text(encoding="utf-8").splitlines()
    assert_distinct(all_demo_tasks(), [json.loads(line)["instruction"] for line in lines if line])


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIABLES))
def test_shipped_files_load_verbatim(name: str) -> None:
    text = prompt_path(name).read_text(encoding="utf-8")
    assert default_prompt(name).template == text


REQUIRED = {"required": ("instruction",), "allowed": ("instruction", "max_instances")}


def test_coerce_prompt_loads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("Q: {instruction}\nA:", encoding="utf-8")
    template = coerce_prompt(path, **REQUIRED)
    assert isinstance(template, PromptTemplate)
    assert template.format(instruction="x") == "Q: x\nA:"


def test_coerce_prompt_accepts_templates_and_none() -> None:
    template = PromptTemplate.from_template("{instruction} ({max_instances})")
    assert coerce_prompt(template, **REQUIRED) is template
    chat = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{instruction}")])
    assert coerce_prompt(chat, **REQUIRED) is chat
    assert coerce_prompt(None, **REQUIRED) is None


def test_coerce_prompt_refuses_plain_strings() -> None:
    with pytest.raises(TypeError, match=r"PromptTemplate\.from_template"):
        coerce_prompt("Q: {instruction}", **REQUIRED)
    with pytest.raises(TypeError, match="int"):
        coerce_prompt(3, **REQUIRED)


def test_coerce_prompt_names_missing_and_unknown_variables() -> None:
    with pytest.raises(ValueError, match=r"\['instruction'\]"):
        coerce_prompt(PromptTemplate.from_template("Q: {task}"), **REQUIRED)
    with pytest.raises(ValueError, match=r"unknown variable\(s\) \['lang'\]"):
        coerce_prompt(PromptTemplate.from_template("{instruction} in {lang}"), **REQUIRED)


def test_coerce_prompt_counts_partial_variables_as_provided() -> None:
    template = PromptTemplate.from_template("{instruction}").partial(instruction="fixed")
    assert coerce_prompt(template, **REQUIRED) is template
