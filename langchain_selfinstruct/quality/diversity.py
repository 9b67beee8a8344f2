"""Diversity metrics of a dataset, next to the paper's Figures 2-4 in the report.

One function per metric; each docstring names where the metric comes from. Words are counted
with the ROUGE tokenizer (lower-case ``[a-z0-9]+`` runs), as everywhere else in the package.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_selfinstruct.dedup import rouge_tokenize
from langchain_selfinstruct.schema import Task

__all__ = [
    "classification_share",
    "distinct_n",
    "diversity_numbers",
    "label_balance",
    "label_balance_summary",
    "per_thousand",
]

_PER_1K = {"root_verbs_per_1k": "distinct_verbs", "verb_noun_pairs_per_1k": "distinct_pairs"}


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct-n: distinct n-grams over all n-grams of the texts (Li et al., 2016, §4.3).

    Li et al., "A Diversity-Promoting Objective Function for Neural Conversation Models" (NAACL
    2016). N-grams do not cross text boundaries. 1.0 means no n-gram repeats; 0.0 for no n-gram.

    Args:
        texts: The instructions.
        n: The n-gram length (1 for distinct-1, 2 for distinct-2).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    grams: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        tokens = rouge_tokenize(text)
        grams.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def per_thousand(count: int, tasks: int) -> float | None:
    """``count`` per 1,000 tasks: distinct root verbs or verb-noun pairs (paper §3.2, Fig. 2).

    The paper counts the distinct root verbs and verb-object pairs of its 52K instructions; per
    1,000 tasks makes runs of different sizes comparable (the counts grow with size, though more
    slowly than linearly, so compare runs of similar size). ``None`` for no tasks.
    """
    return count * 1000 / tasks if tasks else None


def classification_share(tasks: Sequence[Task]) -> float | None:
    """Share of classification tasks among those labelled (paper §2.2; Table 1 counts them).

    Tasks whose ``is_classification`` is unknown are left out; ``None`` when none is labelled.
    """
    known = [task.is_classification for task in tasks if task.is_classification is not None]
    return sum(known) / len(known) if known else None


def label_balance(labels: Sequence[str]) -> float:
    """Evenness of a classification task's labels: Shannon entropy over its maximum (Pielou, 1966).

    The paper names label imbalance among the biases the method can reinforce (§8, "Reinforcing
    LM biases"). 1.0 when every distinct label is equally frequent; 0.0 when all instances share
    one label (or there are none). Labels are compared after ``strip()``.
    """
    counts = Counter(label.strip() for label in labels)
    if len(counts) < 2:
        return 0.0
    total = sum(counts.values())
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    return entropy / math.log(len(counts))


def label_balance_summary(tasks: Sequence[Task]) -> dict[str, Any]:
    """:func:`label_balance` over the classification tasks: count, mean, single-label share."""
    balances = [
        label_balance([instance.output for instance in task.instances])
        for task in tasks
        if task.is_classification and task.instances
    ]
    if not balances:
        return {"tasks": 0, "mean_balance": None, "single_label_share": None}
    return {
        "tasks": len(balances),
        "mean_balance": round(sum(balances) / len(balances), 4),
        "single_label_share": round(sum(b == 0.0 for b in balances) / len(balances), 4),
    }


def diversity_numbers(tasks: Sequence[Task], verbs: dict[str, Any] | None) -> dict[str, Any]:
    """The report's diversity numbers; ``verbs`` is the report's verb-noun analysis (Fig. 2)."""
    instructions = [task.instruction for task in tasks]
    share = classification_share(tasks)
    numbers: dict[str, Any] = {
        "distinct_1": round(distinct_n(instructions, 1), 4),
        "distinct_2": round(distinct_n(instructions, 2), 4),
        "classification_share": None if share is None else round(share, 4),
        "label_balance": label_balance_summary(tasks),
        "root_verbs_per_1k": None,
        "verb_noun_pairs_per_1k": None,
    }
    if verbs is not None:
        for key, name in (
            ("root_verbs_per_1k", "distinct_verbs"),
            ("verb_noun_pairs_per_1k", "distinct_pairs"),
        ):
            value = per_thousand(verbs[name], len(tasks))
            numbers[key] = None if value is None else round(value, 1)
    return numbers
