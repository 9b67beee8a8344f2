"""The report's data-quality sections: the Table 2 review and the diversity metrics, as HTML."""

from __future__ import annotations

from html import escape
from typing import Any

from langchain_selfinstruct._report_html import Row, _fmt, _percent, _table

__all__ = ["diversity_section", "review_section"]

_QUESTIONS = {
    "valid_task": "Valid task",
    "appropriate_input": "Appropriate input",
    "acceptable_output": "Acceptable output",
}


def review_section(review: dict[str, Any] | None) -> str:
    """This run's Table 2 next to the paper's, example failures, and the judges' agreement."""
    title = "<h2>Review: the paper's Table 2 for this run (review.jsonl)</h2>"
    if review is None:
        return title + (
            '<p class="muted">Not reviewed yet: run <code>selfinstruct review RUN_DIR '
            "--judge MODEL</code>.</p>"
        )
    head = (
        "<tr><th>Judge</th><th>Question</th><th>Yes</th><th>Share</th>"
        "<th>95% CI (Wilson)</th><th>Paper</th></tr>"
    )
    rows = []
    for judge, numbers in review["judges"].items():
        for question, q in numbers["questions"].items():
            interval = f"{_percent(q['ci_low'])} - {_percent(q['ci_high'])}"
            rows.append(
                f'<tr data-key="review:{escape(judge)}:{question}"><th>{escape(judge)}</th>'
                f'<td class="text">{_QUESTIONS[question]}</td><td>{q["yes"]} of {q["n"]}</td>'
                f"<td>{_percent(q['share'])}</td><td>{interval}</td>"
                f"<td>{_percent(q['paper'])}</td></tr>"
            )
    notes = [
        f"{escape(judge)}: {numbers['failed']} item(s) failed after retries (tried again on "
        "the next review)"
        for judge, numbers in review["judges"].items()
        if numbers["failed"]
    ]
    parts = [
        title,
        f'<p class="muted">One instance per sampled task, sample seed {review["seed"]}. '
        "The paper's figures come from expert annotators on 200 GPT-3 tasks; a small judge model "
        "is a weak judge, so read these as the machinery's output, not as a measurement.</p>",
        f"<table>{head}{''.join(rows)}</table>",
        *(f'<p class="muted">{note}</p>' for note in notes),
        _agreement(review),
        _examples(review["examples"]),
    ]
    return "\n".join(parts)


def _agreement(review: dict[str, Any]) -> str:
    agreement = review.get("agreement")
    if not agreement:
        return ""
    first, second = (escape(j) for j in review["agreement_judges"])
    rows: list[Row] = [
        (
            f"kappa:{question}",
            f"{_QUESTIONS[question]} (n={a['n']}, agree {_percent(a['observed'])})",
            _fmt(a["kappa"], 3),
        )
        for question, a in agreement.items()
    ]
    return f"<h3>Agreement of {first} and {second}: Cohen's kappa</h3>" + _table(rows)


def _examples(examples: dict[str, list[dict[str, str]]]) -> str:
    parts = ["<h3>Example failures (first judge)</h3>"]
    for question, shown in examples.items():
        if not shown:
            continue
        items = "".join(
            f"<li><strong>{escape(e['task_id'])}</strong>: {escape(e['instruction'])}"
            f"<br>input: {escape(e['input'] or '(none)')}<br>output: {escape(e['output'])}"
            f'<br><span class="muted">judge: {escape(e["rationale"])}</span></li>'
            for e in shown
        )
        parts.append(f"<p>{_QUESTIONS[question]}: no</p><ul>{items}</ul>")
    return "\n".join(parts) if len(parts) > 1 else ""


_DIVERSITY_ROWS: tuple[tuple[str, str, str], ...] = (
    # (where in the numbers, also the row's data-key; label; digits, or % for a share)
    ("distinct_1", "Distinct-1 over instructions", "3"),
    ("distinct_2", "Distinct-2 over instructions", "3"),
    ("root_verbs_per_1k", "Distinct root verbs per 1,000 tasks", "1"),
    ("verb_noun_pairs_per_1k", "Distinct verb-noun pairs per 1,000 tasks", "1"),
    ("classification_share", "Classification tasks", "%"),
    ("label_balance.tasks", "Classification tasks with instances", "0"),
    ("label_balance.mean_balance", "Label balance (mean evenness, 1 = balanced)", "3"),
    ("label_balance.single_label_share", "Classification tasks with one label only", "%"),
)


def diversity_section(diversity: dict[str, Any] | None) -> str:
    """Distinct-n, verbs and pairs per 1,000 tasks, classification share and label balance."""
    if diversity is None:
        return ""
    rows: list[Row] = []
    for key, label, digits in _DIVERSITY_ROWS:
        value: Any = diversity
        for part in key.split("."):
            value = value[part]
        shown = _percent(value) if digits == "%" else _fmt(value, int(digits))
        rows.append((key, label, shown))
    return "<h2>Diversity metrics</h2>" + _table(rows)
