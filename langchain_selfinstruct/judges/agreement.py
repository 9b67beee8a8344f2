"""How far two judges agree, and how sure a share of "yes" is.

Cohen's kappa (Cohen, 1960) is what the paper reports between its two raters (§4.4: 0.58 on
four classes); the Wilson score interval (Wilson, 1927) is the 95% interval of a share, which,
unlike the normal approximation, stays inside [0, 1] and behaves at 0% and 100%.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

__all__ = ["cohen_kappa", "wilson_interval"]

Z_95 = 1.959963984540054
"""The two-sided 95% normal quantile."""


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items (Cohen, 1960).

    ``kappa = (p_o - p_e) / (1 - p_e)``, with ``p_o`` the share of items they agree on and
    ``p_e`` the agreement expected from each rater's own label frequencies.

    Args:
        first: One rater's labels.
        second: The other's, item for item.

    Returns:
        Kappa in [-1, 1], or ``None`` when it is undefined: no items, or both raters gave one
        and the same label to everything (``p_e == 1``).

    Raises:
        ValueError: The sequences differ in length.
    """
    if len(first) != len(second):
        raise ValueError(f"rater label lists differ in length: {len(first)} and {len(second)}")
    n = len(first)
    if not n:
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / (n * n)
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1 - expected)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a share (Wilson, 1927); 95% by default.

    Args:
        successes: Items counted (answers "yes").
        trials: Items in all.
        z: The normal quantile (1.96 for 95%).

    Returns:
        ``(low, high)``; ``(0.0, 1.0)`` when there are no trials.

    Raises:
        ValueError: ``successes`` is negative or above ``trials``.
    """
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if not trials:
        return 0.0, 1.0
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
