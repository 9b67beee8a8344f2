"""The HTML of a run's dataset report: tables, embedded figures and notes, in one offline file.

:mod:`langchain_selfinstruct.report` gathers the numbers; this module only lays them out.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import Any

from langchain_selfinstruct.stats import format_cost

__all__ = ["render_html"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;
color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0}
th,td{padding:.25rem .8rem;border-bottom:1px solid #eee}
th{text-align:left;font-weight:600}td{text-align:right;font-variant-numeric:tabular-nums}
td.text{text-align:left}img{max-width:100%;height:auto;display:block;margin:1rem 0}
.notes{background:#fff6e0;border:1px solid #e8c56d;padding:.6rem 1rem}.muted{color:#777}
"""

Row = tuple[str, str, str]
"""``(data-key, label, formatted value)`` of one table row."""


def render_html(
    name: str,
    numbers: dict[str, Any],
    images: dict[str, bytes],
    notes: list[str],
    extra_sections: Sequence[str] = (),
) -> str:
    stats: dict[str, Any] = numbers.get("stats") or {}
    parts = [
        f"<h1>Self-Instruct dataset report: {escape(name)}</h1>",
        _settings_line(numbers.get("settings") or {}),
    ]
    if notes:
        items = "".join(f"<li>{escape(note)}</li>" for note in notes)
        parts.append(f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>')
    why = numbers.get("why_none_accepted")
    if why is not None:
        parts.append(_why_section(why))
    parts += [
        "<h2>Dataset</h2>",
        _table(_dataset_rows(numbers["dataset"])),
        "<h2>Generation (latest session, from stats.json)</h2>",
        _table(_stats_rows(stats)) if stats else '<p class="muted">No stats.json.</p>',
        _rejects_section(numbers.get("rejects_file")),
        *extra_sections,
    ]
    if images:
        parts += _figure_sections(numbers, images)
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Self-Instruct report: {escape(name)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _figure_sections(numbers: dict[str, Any], images: dict[str, bytes]) -> list[str]:
    return [
        "<h2>Diversity: root verbs and their objects (paper Figure 2)</h2>",
        _verbs_section(numbers.get("verbs"), images.get("verb_noun")),
        "<h2>Similarity to the seed instructions (paper Figure 3)</h2>",
        _image(images["rouge"], "Histogram of ROUGE-L with the most similar seed instruction"),
        _table(_summary_rows("rouge", numbers["rouge_to_seeds"], digits=3)),
        "<h2>Lengths in words (paper Figure 4)</h2>",
        _image(images["lengths"], "Length histograms of instructions, inputs and outputs"),
        *(_table(_summary_rows(f"length:{k}", v)) for k, v in numbers["lengths"].items()),
    ]


def _why_section(why: dict[str, Any]) -> str:
    summary = [
        ("why:stop_reason", "Stop reason (stats.json)", escape(str(why["stop_reason"]))),
        ("why:rejects", "Rejected candidates", _fmt(why["rejects"])),
        ("why:failures", "Failed steps (after retries)", _fmt(why["failures"])),
    ]
    reasons = "".join(
        f'<tr data-key="why_reason:{escape(r["reason"])}"><th>{escape(r["reason"])}</th>'
        f"<td>{_fmt(r['count'])} ({_percent(r['share'])})</td>"
        + "".join(f'<td class="text">{escape(text)}</td>' for text in r["examples"])
        + "</tr>"
        for r in why["reasons"]
    )
    return (
        "<h2>Why no task was accepted</h2>"
        + _table(summary)
        + "<table><tr><th>Reason (rejects.jsonl)</th><th>Records</th><th>Examples</th></tr>"
        + f"{reasons}</table>"
    )


def _settings_line(settings: dict[str, Any]) -> str:
    shown = [
        (k, settings[k]) for k in ("model", "preset", "seed", "num_instructions") if k in settings
    ]
    if not shown:
        return ""
    text = ", ".join(f"{k}: {v}" for k, v in shown)
    return f'<p class="muted">{escape(text)}</p>'


def _dataset_rows(d: dict[str, Any]) -> list[Row]:
    share = d["classification_share"]
    rows = [
        ("instructions", "Instructions (accepted tasks)", _fmt(d["instructions"])),
        ("instances", "Instances", _fmt(d["instances"])),
        ("instances_per_task", "Instances per task (mean)", _fmt(d["instances_per_task"])),
        ("instances_with_input", "Instances with an input", _fmt(d["instances_with_input"])),
        ("classification_tasks", "Classification tasks", _fmt(d["classification_tasks"])),
        ("classification_share", "Classification share", _percent(share)),
        ("classification_unknown", "Tasks not labelled", _fmt(d["classification_unknown"])),
    ]
    rows += [
        (f"tasks_with_instances:{k}", f"Tasks with {k} instance(s)", _fmt(n))
        for k, n in d["instances_per_task_histogram"].items()
    ]
    return rows


_STATS_LABELS = {
    "accepted": "Tasks accepted",
    "instances_kept": "Instances kept",
    "generated_instructions": "Instructions generated (before filtering)",
    "surplus": "Surplus instructions (passed, not needed)",
    "rounds": "Rounds",
    "prompt_tokens": "Prompt tokens",
    "completion_tokens": "Completion tokens",
    "total_tokens": "Total tokens",
    "model_calls": "Model calls",
    "model_errors": "Model errors (each retry counts)",
    "elapsed_s": "Elapsed seconds",
}


def _stats_rows(stats: dict[str, Any]) -> list[Row]:
    rows = [(k, label, _fmt(stats[k])) for k, label in _STATS_LABELS.items() if k in stats]
    cost = stats.get("cost_usd")
    rows.append(("cost_usd", "Estimated cost", escape(format_cost(cost))))
    rows.append(("stop_reason", "Stop reason", escape(str(stats.get("stop_reason")))))
    rows += [
        (f"rejected:{reason}", f"Rejected: {reason}", _fmt(n))
        for reason, n in (stats.get("rejected") or {}).items()
    ]
    rows += [
        (f"failures:{stage}", f"Failed step (after retries): {stage}", _fmt(n))
        for stage, n in (stats.get("failures") or {}).items()
    ]
    return rows


def _rejects_section(tally: dict[str, Any] | None) -> str:
    if tally is None:
        return ""
    rows = [("rejects_total", "Records", _fmt(tally["total"]))]
    rows += [
        (f"rejects_reason:{r}", f"Reason: {r}", _fmt(n)) for r, n in tally["by_reason"].items()
    ]
    rows += [(f"rejects_stage:{s}", f"Stage: {s}", _fmt(n)) for s, n in tally["by_stage"].items()]
    return "<h2>Rejected records (rejects.jsonl, all sessions)</h2>" + _table(rows)


def _verbs_section(verbs: dict[str, Any] | None, image: bytes | None) -> str:
    if verbs is None or image is None:
        return '<p class="muted">Not available: see the notes above.</p>'
    summary = [
        (
            "verbs_with_verb_object",
            "Instructions with a verb-object structure",
            f"{_fmt(verbs['with_verb_object'])} of {_fmt(verbs['parsed'])}",
        ),
        ("verbs_distinct_verbs", "Distinct root verbs", _fmt(verbs["distinct_verbs"])),
        ("verbs_distinct_pairs", "Distinct verb-object pairs", _fmt(verbs["distinct_pairs"])),
    ]
    top = "".join(
        f'<tr data-key="verb:{escape(verb)}"><th>{escape(verb)}</th><td>{_fmt(count)}</td>'
        f'<td class="text">{escape(", ".join(f"{n} ({c})" for n, c in nouns))}</td></tr>'
        for verb, count, nouns in verbs["top"]
    )
    return (
        _image(image, "Sunburst of root verbs and their direct-object nouns")
        + _table(summary)
        + f"<table><tr><th>Verb</th><th>Instructions</th><th>Top objects</th></tr>{top}</table>"
        + f'<p class="muted">{escape(verbs["parser"])}</p>'
    )


def _summary_rows(prefix: str, summary: dict[str, Any], digits: int = 1) -> list[Row]:
    labels = {"count": "Count", "mean": "Mean", "median": "Median", "max": "Max"}
    labels.update({"seed_instructions": "Seed instructions", "above_0_7": "Above 0.7"})
    title = prefix.split(":")[-1].capitalize() + ": " if ":" in prefix else ""
    return [
        (f"{prefix}:{key}", f"{title}{labels[key]}", _fmt(value, digits))
        for key, value in summary.items()
    ]


def _table(rows: list[Row]) -> str:
    body = "".join(
        f'<tr data-key="{escape(key)}"><th>{escape(label)}</th><td>{value}</td></tr>'
        for key, label, value in rows
    )
    return f"<table>{body}</table>"


def _image(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value))
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f}%"
