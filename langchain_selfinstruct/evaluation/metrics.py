"""The evaluation's numbers: grade shares, win rates, length preference, agreement.

Also each judge's inconsistency rate (pairwise orders that disagree).

The win rate counts a tie as half a win, as AlpacaEval does; its 95% interval is a percentile
bootstrap over items (Efron, 1979) with a fixed seed, so a report is reproducible. Agreement is
Cohen's kappa on the four grades and on A/B against C/D, the paper's two figures (§4.4: 0.58 and
0.75 between its raters).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from langchain_selfinstruct.evaluation.grader import GRADES
from langchain_selfinstruct.evaluation.store import AnswerRecord, GradeRecord, PairRecord
from langchain_selfinstruct.judges import cohen_kappa, wilson_interval

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "bootstrap_interval",
    "grade_agreement",
    "grade_length_preference",
    "grade_shares",
    "pair_length_preference",
    "win_rates",
]

BOOTSTRAP_RESAMPLES = 2000


def bootstrap_interval(
    values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of the mean of ``values``; ``(0, 1)`` when empty."""
    if not values:
        return 0.0, 1.0
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]


def grade_shares(grades: Sequence[GradeRecord]) -> dict[str, dict[str, dict[str, Any]]]:
    """Judge -> model -> ``{"n", "counts": {A..D}, "shares": {A..D}, "failed"}``."""
    table: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    latest = _latest(grades)
    for (judge, model), records in _group(latest.values(), lambda r: (r.judge, r.model)).items():
        graded = [r.grade for r in records if r.status == "graded" and r.grade is not None]
        counts = Counter(graded)
        n = len(graded)
        table[judge][model] = {
            "n": n,
            "counts": {g: counts[g] for g in GRADES},
            "shares": {g: counts[g] / n if n else 0.0 for g in GRADES},
            "failed": sum(r.status == "failed" for r in records),
        }
    return {judge: dict(sorted(models.items())) for judge, models in sorted(table.items())}


def win_rates(pairs: Sequence[PairRecord]) -> list[dict[str, Any]]:
    """One row per ``(judge, baseline, model)``: counts, win rate, inconsistency.

    The win rate (a tie is half) comes with its bootstrap interval, the inconsistency rate with
    its Wilson interval.
    """
    latest = _latest(pairs)
    rows = []
    groups = _group(latest.values(), lambda r: (r.judge, r.baseline, r.model))
    for (judge, baseline, model), records in sorted(groups.items()):
        judged = [r for r in records if r.status == "judged"]
        outcomes = Counter(r.outcome for r in judged)
        scores = [{"win": 1.0, "tie": 0.5, "loss": 0.0}[str(r.outcome)] for r in judged]
        n = len(judged)
        inconsistent = sum(r.inconsistent for r in judged)
        low, high = bootstrap_interval(scores)
        rows.append(
            {
                "judge": judge,
                "baseline": baseline,
                "model": model,
                "n": n,
                "win": outcomes["win"],
                "tie": outcomes["tie"],
                "loss": outcomes["loss"],
                "win_rate": sum(scores) / n if n else None,
                "ci_low": low,
                "ci_high": high,
                "inconsistent": inconsistent,
                "inconsistency_rate": inconsistent / n if n else None,
                "inconsistency_ci": wilson_interval(inconsistent, n),
                "failed": sum(r.status == "failed" for r in records),
            }
        )
    return rows


def pair_length_preference(pairs: Sequence[PairRecord]) -> dict[str, dict[str, Any]]:
    """Judge -> how often a decisive pairwise verdict went to the longer reply.

    Only pairs with a winner and replies of different length count; 50% is no preference.
    """
    found: dict[str, list[bool]] = defaultdict(list)
    for r in _latest(pairs).values():
        if r.status != "judged" or r.outcome == "tie" or r.length_model == r.length_baseline:
            continue
        model_longer = r.length_model > r.length_baseline
        found[r.judge].append(model_longer == (r.outcome == "win"))
    return {judge: _share(longer) for judge, longer in sorted(found.items())}


def grade_length_preference(
    grades: Sequence[GradeRecord], answers: Sequence[AnswerRecord]
) -> dict[str, dict[str, Any]]:
    """Judge -> how often the longer of two differently graded replies got the better grade.

    Replies are compared within one item; 50% is no preference; equal lengths do not count.
    """
    words = {a.key: len(a.response.split()) for a in answers if a.status == "answered"}
    found: dict[str, list[bool]] = defaultdict(list)
    graded = [r for r in _latest(grades).values() if r.status == "graded" and r.grade]
    for (judge, *_), records in _group(graded, lambda r: (r.judge, *r.item)).items():
        for x, y in combinations(records, 2):
            len_x, len_y = words.get((x.model, *x.item)), words.get((y.model, *y.item))
            if x.grade == y.grade or len_x is None or len_y is None or len_x == len_y:
                continue
            x_better = GRADES.index(str(x.grade)) < GRADES.index(str(y.grade))
            found[judge].append(x_better == (len_x > len_y))
    return {judge: _share(longer) for judge, longer in sorted(found.items())}


def grade_agreement(grades: Sequence[GradeRecord]) -> list[dict[str, Any]]:
    """Cohen's kappa of each two judges on the replies both graded.

    On the four grades, and on A/B against C/D.
    """
    graded = [r for r in _latest(grades).values() if r.status == "graded" and r.grade]
    by_judge: dict[str, dict[tuple[str, str, int], str]] = defaultdict(dict)
    for r in graded:
        by_judge[r.judge][(r.model, r.task_id, r.instance_index)] = str(r.grade)
    rows = []
    for first, second in combinations(sorted(by_judge), 2):
        common = sorted(by_judge[first].keys() & by_judge[second].keys())
        a = [by_judge[first][k] for k in common]
        b = [by_judge[second][k] for k in common]
        rows.append(
            {
                "judges": [first, second],
                "n": len(common),
                "kappa_four": cohen_kappa(a, b),
                "kappa_acceptable": cohen_kappa([g in "AB" for g in a], [g in "AB" for g in b]),
                "paper": {"kappa_four": 0.58, "kappa_acceptable": 0.75},
            }
        )
    return rows


def _share(flags: Sequence[bool]) -> dict[str, Any]:
    n, longer = len(flags), sum(flags)
    low, high = wilson_interval(longer, n)
    return {"n": n, "longer": longer, "share": longer / n if n else None, "ci": [low, high]}


def _latest(records: Sequence[Any] | Any) -> dict[Any, Any]:
    """The last record per key: a later success replaces an earlier failure."""
    latest: dict[Any, Any] = {}
    for record in records:
        if record.key in latest and latest[record.key].status != "failed":
            continue
        latest[record.key] = record
    return latest


def _group(records: Any, key: Any) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return groups
