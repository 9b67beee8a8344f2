"""Tests for the dataset report: numbers match the run, figures are valid PNGs, HTML is offline."""

from __future__ import annotations

import base64
import io
import json
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib")

from matplotlib import image as mpimg
from rouge_score import rouge_scorer

from langchain_selfinstruct import _figures
from langchain_selfinstruct.report import ReportResult, build_report
from langchain_selfinstruct.schema import Instance, Task
from tests.unit_tests.test_export import RunFixture, build_run_dir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Our own seed instructions; the first is one word away from a fixture instruction.
SEED_INSTRUCTIONS = [
    "Write a short poem about the ocean.",
    "Classify the topic of the article.",
    "Give three tips for staying healthy.",
    "Translate the sentence into Spanish.",
    "Explain how a rainbow forms.",
]


def _seeds() -> list[Task]:
    return [
        Task(id=f"seed_task_{i}", instruction=text, instances=[Instance(output="x")])
        for i, text in enumerate(SEED_INSTRUCTIONS)
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunFixture, ReportResult, str]:
    root = tmp_path_factory.mktemp("report")
    run = build_run_dir(root / "run")
    result = build_report(run.path, root / "out", seed_tasks=_seeds())
    return run, result, result.html_path.read_text(encoding="utf-8")


def _cell(html: str, key: str) -> str:
    match = re.search(rf'<tr data-key="{re.escape(key)}"><th>[^<]*</th><td>([^<]*)</td>', html)
    assert match is not None, f"no row {key!r} in the report"
    return match.group(1)


def test_dataset_counts_match_tasks(built: tuple[RunFixture, ReportResult, str]) -> None:
    run, result, html = built
    instances = [i for t in run.tasks for i in t.instances]
    labelled = [t for t in run.tasks if t.is_classification is not None]
    classification = sum(bool(t.is_classification) for t in labelled)
    dataset = result.numbers["dataset"]
    assert dataset["instructions"] == len(run.tasks)
    assert dataset["instances"] == len(instances)
    assert dataset["classification_tasks"] == classification
    assert dataset["classification_unknown"] == len(run.tasks) - len(labelled) == 1
    assert _cell(html, "instructions") == str(len(run.tasks))
    assert _cell(html, "instances") == str(len(instances))
    assert _cell(html, "classification_tasks") == str(classification)
    assert _cell(html, "classification_share") == f"{100 * classification / len(labelled):.1f}%"
    assert _cell(html, "instances_per_task") == f"{len(instances) / len(run.tasks):.2f}"
    with_input = sum(bool(i.input.strip()) for i in instances)
    assert _cell(html, "instances_with_input") == str(with_input)
    per_task = Counter(len(t.instances) for t in run.tasks)
    for k, n in per_task.items():
        assert _cell(html, f"tasks_with_instances:{k}") == str(n)


def test_stats_are_read_not_recomputed(built: tuple[RunFixture, ReportResult, str]) -> None:
    run, result, html = built
    stats = run.stats
    assert stats is not None
    assert result.numbers["stats"] == stats
    assert _cell(html, "accepted") == str(stats["accepted"])
    assert _cell(html, "total_tokens") == f"{stats['total_tokens']:,}"
    assert _cell(html, "prompt_tokens") == "12,345"
    assert _cell(html, "cost_usd") == "$0.0123"
    assert _cell(html, "stop_reason") == "target"
    for reason, n in stats["rejected"].items():
        assert _cell(html, f"rejected:{reason}") == str(n)
    assert _cell(html, "failures:generate_instructions") == "2"


def test_rejects_file_is_tallied(built: tuple[RunFixture, ReportResult, str]) -> None:
    run, result, html = built
    by_reason = Counter(r["reason"] for r in run.rejects)
    by_stage = Counter(r["stage"] for r in run.rejects)
    tally = result.numbers["rejects_file"]
    assert tally["total"] == len(run.rejects)
    assert tally["by_reason"] == dict(by_reason)
    assert _cell(html, "rejects_reason:near_duplicate") == str(by_reason["near_duplicate"])
    assert _cell(html, "rejects_stage:filter_instructions") == str(by_stage["filter_instructions"])


def test_rouge_to_seeds_matches_rouge_score(built: tuple[RunFixture, ReportResult, str]) -> None:
    run, result, html = built
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    expected = [
        max(scorer.score(seed, t.instruction)["rougeL"].fmeasure for seed in SEED_INSTRUCTIONS)
        for t in run.tasks
    ]
    rouge = result.numbers["rouge_to_seeds"]
    assert rouge["seed_instructions"] == len(SEED_INSTRUCTIONS)
    assert rouge["count"] == len(run.tasks)
    assert rouge["max"] == pytest.approx(max(expected), abs=1e-4)
    assert rouge["mean"] == pytest.approx(statistics.fmean(expected), abs=1e-4)
    assert rouge["above_0_7"] == sum(s > 0.7 for s in expected) >= 1
    assert _cell(html, "rouge:above_0_7") == str(rouge["above_0_7"])
    assert _cell(html, "rouge:max") == f"{max(expected):.3f}"


def test_max_rouge_to_seeds_is_exact() -> None:
    instructions = ["Write a poem about the sea.", "Sort the numbers.", "!!!"]
    seeds = ["Write a short poem about the sea.", "Sort these numbers in order."]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    expected = [max(scorer.score(s, t)["rougeL"].fmeasure for s in seeds) for t in instructions]
    assert _figures.max_rouge_to_seeds(instructions, seeds) == expected
    assert _figures.max_rouge_to_seeds(instructions, []) == [0.0, 0.0, 0.0]


def test_length_numbers(built: tuple[RunFixture, ReportResult, str]) -> None:
    run, result, html = built
    outputs = [len(i.output.split()) for t in run.tasks for i in t.instances]
    inputs = [len(i.input.split()) for t in run.tasks for i in t.instances if i.input.strip()]
    lengths = result.numbers["lengths"]
    assert lengths["output"]["count"] == len(outputs)
    assert lengths["output"]["max"] == max(outputs)
    assert lengths["input"]["median"] == statistics.median(inputs)
    assert lengths["instruction"]["mean"] == pytest.approx(
        statistics.fmean(len(t.instruction.split()) for t in run.tasks), abs=1e-4
    )
    assert _cell(html, "length:output:count") == str(len(outputs))


def test_figures_are_valid_pngs_embedded_in_html(
    built: tuple[RunFixture, ReportResult, str],
) -> None:
    from PIL import Image

    _, result, html = built
    assert set(result.figures) == {"verb_noun", "rouge", "lengths"}
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    for path in result.figures.values():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC)
        with Image.open(io.BytesIO(data)) as picture:
            picture.verify()
        pixels = mpimg.imread(io.BytesIO(data), format="png")
        assert min(pixels.shape[:2]) > 200
        assert pixels.std() > 0.01  # something was drawn, not a blank canvas
        assert base64.b64encode(data).decode() in embedded
    assert len(embedded) == 3


def test_html_is_self_contained(built: tuple[RunFixture, ReportResult, str]) -> None:
    _, _, html = built
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r'(?:src|href)="(?!data:)', html)
    assert "url(" not in html
    assert "@import" not in html


def test_verbs_and_nouns(built: tuple[RunFixture, ReportResult, str]) -> None:
    pytest.importorskip("spacy")
    run, result, html = built
    verbs = result.numbers["verbs"]
    top = {verb: (count, dict(nouns)) for verb, count, nouns in verbs["top"]}
    assert top["generate"] == (6, {"name": 6})
    assert top["write"] == (5, {"poem": 5})
    assert top["classify"] == (5, {"sentiment": 5})
    assert len(top["summarize"][1]) == 4
    assert verbs["parsed"] == len(run.tasks)
    assert len(run.tasks) - 3 <= verbs["with_verb_object"] < len(run.tasks)
    assert sum(count for count, _ in top.values()) == verbs["with_verb_object"]
    assert '<tr data-key="verb:generate"><th>generate</th><td>6</td>' in html


def test_verb_noun_pairs() -> None:
    parser, note = _figures.load_parser()
    if parser is None:
        pytest.skip(note)
    pairs = _figures.verb_noun_pairs(
        [
            "Write a letter to your landlord.",
            "Generate three names for a cat. Keep them short.",
            "What is the capital city of Peru?",
            "",
        ],
        parser,
    )
    assert pairs == [("write", "letter"), ("generate", "name"), None, None]


def test_report_without_spacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = build_run_dir(tmp_path / "run")

    def no_parser(model: str | None = None) -> tuple[Any, str]:
        return None, "spaCy is not installed"

    monkeypatch.setattr(_figures, "load_parser", no_parser)
    result = build_report(run.path, tmp_path / "out", seed_tasks=_seeds())
    html = result.html_path.read_text()
    assert "verbs" not in result.numbers
    assert set(result.figures) == {"rouge", "lengths"}
    assert not (tmp_path / "out" / "verb_noun.png").exists()
    assert "Figure 2 (verbs and nouns) left out: spaCy is not installed" in html
    assert _cell(html, "instructions") == str(len(run.tasks))


def test_missing_model_package_is_a_note() -> None:
    parser, note = _figures.load_parser("no_such_model_package_xyz")
    assert parser is None
    assert "no_such_model_package_xyz" in note


def test_report_without_stats(tmp_path: Path) -> None:
    run = build_run_dir(tmp_path / "run", with_stats=False)
    result = build_report(run.path, tmp_path / "out", seed_tasks=_seeds())
    assert result.numbers["stats"] is None
    assert any("stats.json" in note for note in result.notes)
    html = result.html_path.read_text()
    assert "No stats.json." in html
    assert 'data-key="total_tokens"' not in html


def test_overwrite_refusal(tmp_path: Path) -> None:
    run = build_run_dir(
        tmp_path / "run",
        [Task(id="t", instruction="Name a color.", instances=[Instance(output="red")])],
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("old")
    with pytest.raises(FileExistsError, match=r"report\.html"):
        build_report(run.path, out, seed_tasks=_seeds(), overwrite=False)
    assert (out / "report.html").read_text() == "old"
    build_report(run.path, out, seed_tasks=_seeds())
    assert (out / "report.html").read_text() != "old"
    assert (out / "report.json").is_file()


def test_default_seeds_are_the_shipped_ones(tmp_path: Path) -> None:
    run = build_run_dir(
        tmp_path / "run",
        [Task(id="t", instruction="Name a color.", instances=[Instance(output="red")])],
    )
    result = build_report(run.path, tmp_path / "out")
    assert result.numbers["rouge_to_seeds"]["seed_instructions"] == 175


def test_missing_run_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build_report(tmp_path / "nowhere", tmp_path / "out")


def test_an_unknown_cost_reads_as_in_the_cli(tmp_path: Path) -> None:
    run = build_run_dir(tmp_path / "run")
    assert run.stats is not None
    (run.path / "stats.json").write_text(json.dumps({**run.stats, "cost_usd": None}))
    html = build_report(run.path, tmp_path / "out", seed_tasks=_seeds()).html_path.read_text()
    assert _cell(html, "cost_usd") == "unknown (no price for this model)"


def _run_that_accepts_nothing(path: Path) -> None:
    from langchain_core.language_models import FakeListLLM

    from langchain_selfinstruct import SelfInstructPipeline
    from langchain_selfinstruct.runner import run_to_directory

    pipeline = SelfInstructPipeline(FakeListLLM(responses=["Hi."]), max_concurrency=1)
    summary = run_to_directory(pipeline, path, 3)
    assert (summary.stats.accepted, summary.stats.stop_reason) == (0, "stalled")


def test_a_run_with_no_accepted_task_reports_why_everything_was_rejected(tmp_path: Path) -> None:
    _run_that_accepts_nothing(tmp_path / "run")
    assert (tmp_path / "run" / "tasks.jsonl").read_bytes() == b""
    result = build_report(tmp_path / "run", tmp_path / "out", seed_tasks=_seeds())
    assert result.numbers["why_none_accepted"] == {
        "stop_reason": "stalled",
        "rejects": 5,
        "failures": 0,
        "reasons": [{"reason": "too_short", "count": 5, "share": 1.0, "examples": ["Hi."]}],
    }
    assert result.numbers["dataset"]["instructions"] == 0
    assert result.numbers["dataset"]["instances_per_task"] is None
    assert result.figures == {}
    assert "no accepted task yet: the figures are left out" in result.notes
    html = result.html_path.read_text()
    assert "<h2>Why no task was accepted</h2>" in html
    assert _cell(html, "why:stop_reason") == "stalled"
    assert _cell(html, "why_reason:too_short") == "5 (100.0%)"
    assert '<td class="text">Hi.</td>' in html
    assert json.loads((tmp_path / "out" / "report.json").read_text())["why_none_accepted"]


def test_the_report_command_on_a_run_with_no_accepted_task(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from langchain_selfinstruct.cli import main

    _run_that_accepts_nothing(tmp_path / "run")
    args = ["report", str(tmp_path / "run"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {tmp_path / 'out' / 'report.html'}\n"


def test_reject_examples_are_tallied_for_every_run(
    built: tuple[RunFixture, ReportResult, str],
) -> None:
    run, result, _ = built
    by_reason = result.numbers["rejects_file"]["examples"]
    first_near_duplicate = next(r for r in run.rejects if r["reason"] == "near_duplicate")
    assert by_reason["near_duplicate"][0] == first_near_duplicate["instruction"]
    assert all(len(texts) <= 3 for texts in by_reason.values())


def test_reject_lines_the_run_directory_would_never_write_are_skipped_with_a_note(
    tmp_path: Path,
) -> None:
    from langchain_selfinstruct.schema import MAX_LINE_BYTES

    run = build_run_dir(tmp_path / "run")
    with (run.path / "rejects.jsonl").open("a") as handle:
        handle.write(json.dumps({"reason": "x", "instruction": "y" * MAX_LINE_BYTES}) + "\n")
        handle.write("[1, 2]\n")
    result = build_report(run.path, tmp_path / "out", seed_tasks=_seeds())
    assert result.numbers["rejects_file"]["total"] == len(run.rejects)
    assert f"{run.path / 'rejects.jsonl'}: 2 unreadable line(s) skipped" in result.notes
