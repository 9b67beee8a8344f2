"""``selfinstruct eval report``: ``eval_report.json``, an offline HTML page and the bars PNG.

All three are written into the evaluation directory; the PNG is the paper's Figure 6.

The page shows, per judge, each model's A/B/C/D shares; the win rates against a baseline with
bootstrap intervals; how often the judge preferred the longer reply; how often its two pairwise
orders disagreed; and Cohen's kappa between two judges when two graded the same replies.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from langchain_selfinstruct._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from langchain_selfinstruct._report_html import _STYLE, _fmt, _image, _percent
from langchain_selfinstruct.evaluation import metrics
from langchain_selfinstruct.evaluation.directory import load_eval_dir
from langchain_selfinstruct.evaluation.grader import GRADES
from langchain_selfinstruct.evaluation.store import (
    ANSWERS_FILE,
    GRADES_FILE,
    PAIRS_FILE,
    AnswerRecord,
    GradeRecord,
    PairRecord,
    read_records,
)

__all__ = ["EvalReport", "eval_numbers", "write_eval_report"]

REPORT_HTML = "eval_report.html"
REPORT_JSON = "eval_report.json"
REPORT_PNG = "eval_grades.png"
WEAK_JUDGE_NOTE = (
    "A judge model is not an expert rater: a small one mostly tells an empty, off-topic or "
    "copied reply (D) from a real attempt, and is unreliable on whether an attempt is correct "
    "(A/B against C). Read the shares as the judge's opinion, and the kappa between two judges "
    "as a measure of how much that opinion can be trusted."
)


@dataclass(frozen=True)
class EvalReport:
    """What :func:`write_eval_report` wrote."""

    html: Path
    png: Path | None
    """``None`` when nothing was graded yet (no bars to draw)."""
    numbers: dict[str, Any]


def eval_numbers(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Every number of the report, read from the directory's logs."""
    directory = Path(out_dir)
    items = load_eval_dir(directory)
    answers = read_records(directory / ANSWERS_FILE, AnswerRecord)
    grades = read_records(directory / GRADES_FILE, GradeRecord)
    pairs = read_records(directory / PAIRS_FILE, PairRecord)
    return {
        "items": len(items),
        "apps": len({i.motivation_app for i in items if i.motivation_app}),
        "answers": _answer_numbers(answers),
        "grades": metrics.grade_shares(grades),
        "grade_length_preference": metrics.grade_length_preference(grades, answers),
        "agreement": metrics.grade_agreement(grades),
        "win_rates": metrics.win_rates(pairs),
        "pair_length_preference": metrics.pair_length_preference(pairs),
    }


def write_eval_report(out_dir: str | os.PathLike[str]) -> EvalReport:
    """Write ``eval_report.json``, ``eval_report.html`` and ``eval_grades.png`` into ``out_dir``.

    Raises:
        ValueError: ``out_dir`` is not an evaluation directory, or a log is corrupt.
        ImportError: matplotlib is missing (install the ``analysis`` extra).
    """
    directory = Path(out_dir)
    numbers = eval_numbers(directory)
    png: Path | None = None
    image = b""
    if numbers["grades"]:
        try:
            from langchain_selfinstruct.evaluation.figure import grade_bars
        except ImportError as e:
            raise ImportError(
                "the evaluation report draws with matplotlib: "
                "pip install 'langchain-selfinstruct[analysis]'"
            ) from e
        image = grade_bars(numbers["grades"])
        png = directory / REPORT_PNG
        atomic_write_bytes(png, image)
    atomic_write_json(directory / REPORT_JSON, numbers)
    html = directory / REPORT_HTML
    atomic_write_text(html, _html(directory.name, numbers, image))
    return EvalReport(html, png, numbers)


def _answer_numbers(answers: list[AnswerRecord]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    answered = {r.key: r for r in answers if r.status == "answered"}
    failed = Counter(r.model for r in answers if r.status == "failed" and r.key not in answered)
    for model in sorted({r.model for r in answers}):
        mine = [r for r in answered.values() if r.model == model]
        words = [len(r.response.split()) for r in mine]
        table[model] = {
            "answered": len(mine),
            "failed": failed[model],
            "mean_words": sum(words) / len(words) if words else None,
        }
    return table


def _html(name: str, numbers: dict[str, Any], image: bytes) -> str:
    parts = [
        f"<h1>Evaluation report: {escape(name)}</h1>",
        f'<p class="muted">{numbers["items"]} items from {numbers["apps"]} apps.</p>',
        f'<div class="notes"><strong>What a judge can tell</strong><p>{WEAK_JUDGE_NOTE}</p></div>',
        "<h2>Answers</h2>",
        _rows(
            ["Model", "Answered", "Failed (rerun to retry)", "Mean words"],
            [
                [m, _fmt(a["answered"]), _fmt(a["failed"]), _fmt(a["mean_words"], 1)]
                for m, a in numbers["answers"].items()
            ],
        ),
        "<h2>Grades (the paper's A-D rating, Figure 6)</h2>",
    ]
    if numbers["grades"]:
        parts.append(_image(image, "Stacked A/B/C/D shares per model"))
        parts.append(_grade_table(numbers["grades"]))
    else:
        parts.append(
            '<p class="muted">Not graded yet: run <code>selfinstruct eval grade</code>.</p>'
        )
    parts += [
        "<h2>Win rates against the baseline (a tie counts half)</h2>",
        _win_table(numbers["win_rates"]),
        "<h2>Length preference</h2>",
        _length_table(numbers),
        "<h2>Agreement between judges (Cohen's kappa)</h2>",
        _agreement_table(numbers["agreement"]),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Evaluation report: {escape(name)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{chr(10).join(parts)}\n</body></html>\n"
    )


def _rows(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return '<p class="muted">None yet.</p>'
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        f"<tr><th>{escape(row[0])}</th>{''.join(f'<td>{cell}</td>' for cell in row[1:])}</tr>"
        for row in rows
    )
    return f"<table><tr>{header}</tr>{body}</table>"


def _grade_table(grades: dict[str, dict[str, dict[str, Any]]]) -> str:
    rows = [
        [
            f"{judge} / {model}",
            _fmt(g["n"]),
            *(_percent(g["shares"][grade]) for grade in GRADES),
            _fmt(g["failed"]),
        ]
        for judge, models in grades.items()
        for model, g in models.items()
    ]
    return _rows(["Judge / model", "Graded", *GRADES, "Failed"], rows)


def _win_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No comparison yet: run <code>selfinstruct eval compare</code>.</p>'
    cells = [
        [
            f"{r['judge']}: {r['model']} vs {r['baseline']}",
            _fmt(r["n"]),
            f"{r['win']} / {r['tie']} / {r['loss']}",
            _percent(r["win_rate"]),
            f"{_percent(r['ci_low'])} - {_percent(r['ci_high'])}",
            _percent(r["inconsistency_rate"]),
            _fmt(r["failed"]),
        ]
        for r in rows
    ]
    head = ["Comparison", "Pairs", "Win / tie / loss", "Win rate", "95% CI (bootstrap)"]
    return _rows([*head, "Inconsistent (tie)", "Failed"], cells)


def _length_table(numbers: dict[str, Any]) -> str:
    rows = []
    for source, label in (
        ("pair_length_preference", "pairwise: decisive verdicts"),
        ("grade_length_preference", "grades: differently graded replies to one item"),
    ):
        for judge, s in numbers[source].items():
            interval = f"{_percent(s['ci'][0])} - {_percent(s['ci'][1])}"
            rows.append([f"{judge} ({label})", _fmt(s["n"]), _percent(s["share"]), interval])
    return _rows(["Judge", "Cases", "Longer reply preferred", "95% CI (Wilson)"], rows) + (
        '<p class="muted">50% is no preference; well above 50% means the judge rewards length.</p>'
    )


def _agreement_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">Give two judges to <code>eval grade</code> for kappa.</p>'
    cells = [
        [
            " vs ".join(r["judges"]),
            _fmt(r["n"]),
            _fmt(r["kappa_four"]),
            _fmt(r["kappa_acceptable"]),
        ]
        for r in rows
    ]
    table = _rows(["Judges", "Replies", "Kappa, A/B/C/D", "Kappa, A/B vs C/D"], cells)
    return table + '<p class="muted">The paper\'s two raters: 0.58 and 0.75.</p>'
