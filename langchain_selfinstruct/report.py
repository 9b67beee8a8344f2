"""A run's dataset report: counts, diversity, similarity to the seeds, lengths; one HTML file.

The report mirrors the paper's data analysis (Wang et al., 2022, §3): the root verbs and their
direct-object nouns (Figure 2), the ROUGE-L of each generated instruction with its most similar seed
instruction (Figure 3) and the length of instructions, inputs and outputs (Figure 4). Counters such
as tokens, cost and rejections are read from ``stats.json``, never recomputed.

``report.html`` embeds its figures and style, so it opens offline; the figures are also saved as PNG
files and every number as ``report.json`` beside it. Needs the ``analysis`` extra (matplotlib; the
verb/noun figure also needs spaCy and an English model package, and is left out with a note when
they are missing).
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_selfinstruct._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from langchain_selfinstruct._report_html import render_html
from langchain_selfinstruct.export import load_run_tasks, resolve_seed_tasks
from langchain_selfinstruct.quality.report_numbers import quality_numbers, quality_sections
from langchain_selfinstruct.run_store import RunDirectory
from langchain_selfinstruct.schema import MAX_LINE_BYTES, Task

__all__ = ["ReportResult", "build_report"]

_EXAMPLES_PER_REASON = 3
_EXAMPLE_CHARS = 200

_FIGURE_FILES = {
    "verb_noun": "verb_noun.png",
    "rouge": "rouge_to_seeds.png",
    "lengths": "lengths.png",
}


@dataclass
class ReportResult:
    """What :func:`build_report` wrote and computed."""

    html_path: Path
    """The self-contained ``report.html``."""
    figures: dict[str, Path] = field(default_factory=dict)
    """PNG files by figure name (``verb_noun``, ``rouge``, ``lengths``)."""
    numbers: dict[str, Any] = field(default_factory=dict)
    """Every number shown in the report (also saved as ``report.json``)."""
    notes: list[str] = field(default_factory=list)
    """What could not be shown, and why."""


def build_report(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    seed_tasks: Sequence[Task] | str | os.PathLike[str] | None = None,
    spacy_model: str | None = None,
    overwrite: bool = True,
) -> ReportResult:
    """Build ``report.html``, its PNG figures and ``report.json`` for a run directory.

    Args:
        run_dir: The run directory (``tasks.jsonl``; ``stats.json``, ``rejects.jsonl`` and
            ``settings.json`` when present).
        out_dir: Output directory, created if missing.
        seed_tasks: Seed tasks or seed file for Figure 3; the package's own seeds when ``None``.
        spacy_model: Installed spaCy model package for Figure 2; :data:`SPACY_MODELS` when ``None``.
        overwrite: Replace an existing report; when false an existing ``report.html`` is an error.

    Returns:
        The paths written, the numbers and the notes.

    Raises:
        FileNotFoundError: ``run_dir`` or its ``tasks.jsonl`` does not exist.
        FileExistsError: ``report.html`` exists and ``overwrite`` is false.
        langchain_selfinstruct.schema.TaskFileError: A task file is corrupt.
        ImportError: matplotlib is missing (install the ``analysis`` extra).
    """
    out = Path(out_dir)
    html_path = out / "report.html"
    if html_path.exists() and not overwrite:
        raise FileExistsError(f"{html_path}: already exists; pass --force (overwrite=True)")
    tasks = load_run_tasks(run_dir, allow_empty=True)
    notes: list[str] = []
    numbers: dict[str, Any] = {"dataset": _dataset_numbers(tasks)}
    numbers.update(_run_files(Path(run_dir), notes))
    if tasks:
        images = _analyse(tasks, resolve_seed_tasks(seed_tasks), spacy_model, numbers, notes)
    else:
        # A run that accepted nothing is where the report matters most: it says why.
        images = {}
        notes.append("no accepted task yet: the figures are left out")
        numbers["why_none_accepted"] = _why_none_accepted(numbers)
    numbers.update(quality_numbers(Path(run_dir), tasks, numbers.get("verbs"), notes))
    figures = {name: out / _FIGURE_FILES[name] for name in images}
    for name, data in images.items():
        atomic_write_bytes(figures[name], data)
    atomic_write_json(out / "report.json", {**numbers, "notes": notes})
    sections = quality_sections(numbers)
    atomic_write_text(html_path, render_html(Path(run_dir).name, numbers, images, notes, sections))
    return ReportResult(html_path, figures, numbers, notes)


def _analyse(
    tasks: list[Task],
    seeds: list[Task],
    spacy_model: str | None,
    numbers: dict[str, Any],
    notes: list[str],
) -> dict[str, bytes]:
    """Compute the figures' numbers into ``numbers`` and return the figures as PNG bytes."""
    from langchain_selfinstruct import _figures  # matplotlib: the analysis extra

    images: dict[str, bytes] = {}
    instructions = [task.instruction for task in tasks]
    parser, parser_note = _figures.load_parser(spacy_model)
    if parser is None:
        notes.append(f"Figure 2 (verbs and nouns) left out: {parser_note}")
    else:
        pairs = [p for p in _figures.verb_noun_pairs(instructions, parser) if p is not None]
        groups = _figures.verb_groups(pairs)
        numbers["verbs"] = _verb_numbers(len(instructions), pairs, groups, parser_note)
        images["verb_noun"] = _figures.verb_noun_sunburst(groups)

    scores = _figures.max_rouge_to_seeds(instructions, [seed.instruction for seed in seeds])
    numbers["rouge_to_seeds"] = _rouge_numbers(scores, len(seeds))
    images["rouge"] = _figures.rouge_histogram(scores)

    lengths = _word_lengths(tasks)
    numbers["lengths"] = {name: _summary(values) for name, values in lengths.items()}
    images["lengths"] = _figures.length_histograms(*lengths.values())
    return images


def _dataset_numbers(tasks: list[Task]) -> dict[str, Any]:
    instances = [instance for task in tasks for instance in task.instances]
    known = [task.is_classification for task in tasks if task.is_classification is not None]
    per_task = Counter(len(task.instances) for task in tasks)
    return {
        "instructions": len(tasks),
        "instances": len(instances),
        "instances_per_task": round(len(instances) / len(tasks), 2) if tasks else None,
        "instances_per_task_histogram": {str(k): per_task[k] for k in sorted(per_task)},
        "instances_with_input": sum(bool(i.input.strip()) for i in instances),
        "classification_tasks": sum(known),
        "classification_share": round(sum(known) / len(known), 4) if known else None,
        "classification_unknown": len(tasks) - len(known),
    }


def _run_files(run_dir: Path, notes: list[str]) -> dict[str, Any]:
    directory = RunDirectory(run_dir if run_dir.is_dir() else run_dir.parent)
    stats = _read_json(directory.stats_path, notes)
    if stats is None:
        notes.append(f"{directory.stats_path}: missing; token, cost and rejection counters unknown")
    return {
        "stats": stats,
        "settings": _read_json(directory.settings_path, notes),
        "rejects_file": _tally_rejects(directory.rejects_path, notes),
    }


def _read_json(path: Path, notes: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        notes.append(f"{path}: unreadable ({e}); its numbers are left out")
        return None
    return data if isinstance(data, dict) else None


def _tally_rejects(path: Path, notes: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    by_reason: Counter[str] = Counter()
    by_stage: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    unreadable = 0
    for raw in path.read_bytes().splitlines():
        if not raw.strip():
            continue
        try:
            # The run directory never writes a longer line (rejects are cut to fit).
            if len(raw) > MAX_LINE_BYTES:
                raise ValueError("line too long")
            record = json.loads(raw.decode("utf-8", errors="replace"))
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            unreadable += 1
            continue
        reason = str(record.get("reason", "unknown"))
        by_reason[reason] += 1
        by_stage[str(record.get("stage", "unknown"))] += 1
        texts = examples.setdefault(reason, [])
        text = _example_text(record)
        if text and len(texts) < _EXAMPLES_PER_REASON and text not in texts:
            texts.append(text)
    if unreadable:
        notes.append(f"{path}: {unreadable} unreadable line(s) skipped")
    return {
        "total": sum(by_reason.values()),
        "by_reason": dict(by_reason.most_common()),
        "by_stage": dict(by_stage.most_common()),
        "examples": {reason: examples[reason] for reason in by_reason if examples[reason]},
    }


def _example_text(record: dict[str, Any]) -> str:
    # A failed step has no text of its own; its error message says what went wrong.
    text = record.get("instruction") or record.get("error") or ""
    text = " ".join(str(text).split())
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


def _why_none_accepted(numbers: dict[str, Any]) -> dict[str, Any]:
    stats = numbers.get("stats") or {}
    tally = numbers.get("rejects_file") or {"total": 0, "by_reason": {}, "examples": {}}
    failures = tally["by_reason"].get("step_failed", 0)
    rejects = tally["total"] - failures
    reasons = [
        {
            "reason": reason,
            "count": count,
            "share": round(count / tally["total"], 4),
            "examples": tally["examples"].get(reason, []),
        }
        for reason, count in tally["by_reason"].items()
    ]
    return {
        "stop_reason": stats.get("stop_reason"),
        "rejects": rejects,
        "failures": failures,
        "reasons": reasons,
    }


def _verb_numbers(
    parsed: int,
    pairs: list[tuple[str, str]],
    groups: list[tuple[str, int, list[tuple[str, int]]]],
    parser_note: str,
) -> dict[str, Any]:
    return {
        "parser": parser_note,
        "parsed": parsed,
        "with_verb_object": len(pairs),
        "distinct_verbs": len({verb for verb, _ in pairs}),
        "distinct_pairs": len(set(pairs)),
        "top": [[verb, count, [list(n) for n in nouns]] for verb, count, nouns in groups],
    }


def _rouge_numbers(scores: list[float], seed_count: int) -> dict[str, Any]:
    return {
        "seed_instructions": seed_count,
        **_summary(scores),
        "above_0_7": sum(score > 0.7 for score in scores),
    }


def _word_lengths(tasks: list[Task]) -> dict[str, list[int]]:
    instances = [instance for task in tasks for instance in task.instances]
    return {
        "instruction": [len(task.instruction.split()) for task in tasks],
        "input": [len(i.input.split()) for i in instances if i.input.strip()],
        "output": [len(i.output.split()) for i in instances],
    }


def _summary(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "mean": None, "median": None, "max": None}
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
    }
