"""--exclude and selfinstruct decontaminate: ROUGE-L and 13-gram rules, files, and the loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_selfinstruct import (
    Decontaminator,
    FakeSelfInstructLLM,
    SelfInstructPipeline,
    TaskFileError,
)
from langchain_selfinstruct.quality import decontaminate_run, load_exclusion_texts
from langchain_selfinstruct.steps import InstructionFilter

OURS = [
    "Write a polite note asking a neighbour to keep their dog off the lawn.",
    "Explain how a bicycle gear works to someone who has never ridden one.",
    "List three things to pack for a rainy weekend in the mountains.",
]
PARAPHRASES = [
    "Write a polite note asking your neighbour to keep the dog off the lawn.",
    "Explain how bicycle gears work to someone who has never ridden one.",
]
LONG = (
    "Read the customer review below and tell me whether the writer would buy from the shop again, "
    "giving one sentence of evidence from the text."
)


@pytest.fixture
def excluded(tmp_path: Path) -> Path:
    path = tmp_path / "mine.txt"
    path.write_text("\n".join([*OURS, LONG]) + "\n\n", encoding="utf-8")
    return path


def test_near_paraphrases_are_contaminated_and_name_the_file(excluded: Path) -> None:
    rule = Decontaminator([excluded])
    for text in PARAPHRASES:
        hit = rule(text)
        assert hit is not None and hit.reason == "contaminated:mine.txt"
        assert hit.detail["rule"] == "rouge_l" and hit.detail["score"] > 0.7
    assert rule("Suggest a name for a bakery that sells only bread.") is None


def test_a_shared_13_gram_is_contaminated_even_with_low_rouge(excluded: Path) -> None:
    rule = Decontaminator([excluded])
    borrowed = (
        "Here is a long preamble about shopping habits, loyalty cards, seasonal sales and delivery "
        "times in small towns. Now: tell me whether the writer would buy from the shop again, "
        "giving one sentence of evidence"
    )
    hit = rule(borrowed)
    assert hit is not None and hit.detail["rule"] == "ngram" and hit.detail["n"] == 13
    assert hit.detail["ngram"].startswith("tell me whether the writer")
    assert Decontaminator([excluded], ngram=0)(borrowed) is None
    twelve = "tell me whether the writer would buy from the shop again giving one"
    assert Decontaminator([excluded], ngram=13)(f"Please {twelve.split(' ', 1)[1]} now") is None


def test_exclusion_files_are_checked_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "eval.jsonl"
    bad.write_text('{"instruction": "Fine one."}\n{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(TaskFileError, match=r"eval.jsonl:2: field 'instruction'"):
        load_exclusion_texts(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(TaskFileError, match=r"empty\.txt: no text to exclude"):
        load_exclusion_texts(empty)
    with pytest.raises(TaskFileError, match="cannot read"):
        load_exclusion_texts(tmp_path / "missing.txt")


def test_the_papers_user_oriented_set_is_caught(user_oriented_path: Path) -> None:
    texts = load_exclusion_texts(user_oriented_path)
    assert len(texts) == 252
    rule = Decontaminator([user_oriented_path])
    assert all(rule(text) is not None for text in texts)
    # A light edit of an evaluation instruction (one word added at the end) is still caught.
    edited = [f"{text} Thanks" for text in texts if len(text.split()) >= 8]
    hits = [rule(text) for text in edited]
    assert all(
        hit is not None and hit.reason == f"contaminated:{user_oriented_path.name}" for hit in hits
    )


def test_the_loop_rejects_exactly_what_the_rule_flags(tmp_path: Path) -> None:
    plain = SelfInstructPipeline(FakeSelfInstructLLM(seed=2), seed=2)
    plain.run(tmp_path / "plain", 15)
    first = [
        json.loads(line)["instruction"]
        for line in (tmp_path / "plain" / "tasks.jsonl").read_text().splitlines()
    ]
    exclude = tmp_path / "eval.txt"
    exclude.write_text("\n".join(first[:5]) + "\n", encoding="utf-8")
    rule = Decontaminator([exclude])
    run = SelfInstructPipeline(
        FakeSelfInstructLLM(seed=2),
        seed=2,
        instruction_filter=InstructionFilter(custom_rules=[rule]),
    )
    summary = run.run(tmp_path / "clean", 15)
    kept = [
        json.loads(line)["instruction"]
        for line in (tmp_path / "clean" / "tasks.jsonl").read_text().splitlines()
    ]
    records = [
        json.loads(line) for line in (tmp_path / "clean" / "rejects.jsonl").read_text().splitlines()
    ]
    flagged = [r for r in records if r["reason"] == "contaminated:eval.txt"]
    assert flagged and summary.stats.rejected["contaminated:eval.txt"] == len(flagged)
    assert all(rule(text) is None for text in kept)
    assert all(rule(r["instruction"]) is not None for r in flagged)
    assert flagged[0]["detail"]["match"] in first[:5]
    assert not set(kept) & set(first[:5])


def test_decontaminate_run_writes_the_flagged_tasks(tmp_path: Path, excluded: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    rows = [
        {"id": "machine_task_0", "instruction": PARAPHRASES[0]},
        {"id": "machine_task_1", "instruction": "Name a colour."},
    ]
    (run / "tasks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = decontaminate_run(run, Decontaminator([excluded]))
    assert result.checked == 2 and result.by_reason == {"contaminated:mine.txt": 1}
    written = [json.loads(line) for line in (run / "contaminated.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["reason"]) for r in written] == [
        ("machine_task_0", "contaminated:mine.txt")
    ]
