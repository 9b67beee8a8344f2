"""Exact ROUGE-L, bit-for-bit equal to ``rouge_score``, with a one-vs-many scorer in C.

``rouge_score`` computes the LCS of two token lists with a Python dynamic programme, then
``precision = lcs / len(prediction)``, ``recall = lcs / len(target)`` and
``fmeasure = 2 * precision * recall / (precision + recall)`` (0 when either side has no tokens).
Here the LCS comes from rapidfuzz's bit-parallel ``LCSseq`` on integer-coded tokens and the
F-measure from the very same float64 expression, so scores are identical, not just close.

Because that F-measure equals ``2 * lcs / (m + n)`` and increases with the LCS, "F > t" is decided
by comparing the LCS with :func:`min_lcs_above`, the smallest LCS whose *float* F-measure exceeds
``t``. This is what lets the index prune pairs before any LCS without ever changing a decision,
including ties: with ``t = 0.7``, lcs = 7 and m + n = 20 give F == 0.7 exactly, which is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import process
from rapidfuzz.distance import LCSseq

from langchain_selfinstruct.dedup.tokenize import Code, encode_ids, rouge_tokenize

__all__ = ["fmeasure", "lcs_many", "min_lcs_above", "rouge_l", "rouge_l_tokens"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def rouge_l_tokens(target: Sequence[str], prediction: Sequence[str]) -> float:
    """ROUGE-L F-measure of two token sequences, as ``rouge_score._score_lcs`` computes it."""
    if not target or not prediction:
        return 0.0
    ids: dict[str, int] = {}
    code_t = encode_ids([ids.setdefault(tok, len(ids)) for tok in target])
    code_p = encode_ids([ids.setdefault(tok, len(ids)) for tok in prediction])
    lcs = LCSseq.similarity(code_t, code_p)
    precision = lcs / len(prediction)
    recall = lcs / len(target)
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F-measure of two texts, identical to the paper's scorer.

    Equals ``RougeScorer(["rougeL"], use_stemmer=False).score(a, b)["rougeL"].fmeasure``: ``a``
    is the target (reference) and ``b`` the prediction. The F-measure is symmetric, so the order
    never changes the value.

    Args:
        a: Target text.
        b: Prediction text.

    Returns:
        The F-measure in [0, 1]; 0 when either text has no ``[a-z0-9]`` token.
    """
    return rouge_l_tokens(rouge_tokenize(a), rouge_tokenize(b))


def fmeasure(lcs: IntArray, target_len: int, prediction_lens: IntArray) -> FloatArray:
    """Vectorised ``rouge_score`` F-measure from LCS lengths.

    Evaluates exactly ``2 * p * r / (p + r)`` in float64 (numpy's elementwise IEEE operations round
    like Python floats), so each value equals what ``rouge_score`` returns for that pair.

    Args:
        lcs: LCS lengths.
        target_len: Token count of the target (the query).
        prediction_lens: Token counts of the predictions (pool texts).

    Returns:
        The F-measures (0 where a side has no tokens, as in ``rouge_score``).
    """
    # Empty texts (length 0) give 0/0 here; rouge_score scores them 0, and so does the where().
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = lcs / prediction_lens
        recall = lcs / target_len
        total = precision + recall
        f = 2 * precision * recall / total
    return np.where(total > 0, f, 0.0)


def min_lcs_above(threshold: float, target_len: int, prediction_lens: IntArray) -> IntArray:
    """Smallest LCS whose float F-measure is strictly above ``threshold``, per prediction length.

    Args:
        threshold: Score that must be exceeded, at least 0.
        target_len: Token count of the target, at least 1.
        prediction_lens: Token counts of the predictions, each at least 1.

    Returns:
        For each length ``n`` the minimal LCS, or ``min(target_len, n) + 1`` when even a full
        match cannot exceed the threshold.
    """
    n = np.asarray(prediction_lens, dtype=np.int64)
    cap = np.minimum(n, target_len)
    # The real-valued crossing is threshold * (m + n) / 2; the float F-measure differs from
    # 2 * lcs / (m + n) by a few ulps, far less than one LCS step, so the answer is one of the
    # four integers around the crossing. Testing them with the exact float formula settles ties.
    base = np.floor(threshold * (target_len + n) / 2).astype(np.int64) - 1
    answer = cap + 1
    for step in range(3, -1, -1):
        lcs = np.clip(base + step, 1, None)
        ok = (lcs <= cap) & (fmeasure(lcs, target_len, n) > threshold)
        answer = np.where(ok, lcs, answer)
    return answer


def lcs_many(query: Code, pool: Sequence[Code], workers: int = 1) -> IntArray:
    """LCS length of ``query`` against every coded sequence in ``pool``, in one C call.

    Args:
        query: Coded query tokens.
        pool: Coded pool token sequences.
        workers: Threads rapidfuzz may use (-1: all cores).

    Returns:
        One LCS length per pool entry.
    """
    if not pool:
        return np.zeros(0, dtype=np.int64)
    lcs: NDArray[np.int32] = process.cdist(
        [query], pool, scorer=LCSseq.similarity, dtype=np.int32, workers=workers
    )
    return lcs.reshape(-1).astype(np.int64)
