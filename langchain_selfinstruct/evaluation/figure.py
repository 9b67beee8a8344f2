"""The paper's evaluation figure (Wang et al., 2022, Figure 6): A/B/C/D shares per model, stacked.

Drawn on a bare :class:`~matplotlib.figure.Figure` with an Agg canvas, never through ``pyplot``,
as the dataset report's figures are; one panel per judge. Needs matplotlib (the ``analysis``
extra); :mod:`langchain_selfinstruct.evaluation.report` imports this module only when it draws.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from langchain_selfinstruct.evaluation.grader import GRADES

__all__ = ["GRADE_COLORS", "grade_bars"]

GRADE_COLORS = {"A": "#2e7d32", "B": "#9ccc65", "C": "#ffb74d", "D": "#e53935"}
"""Green for valid and satisfying through red for invalid."""
_MIN_LABELLED_SHARE = 0.06
_DPI = 100


def grade_bars(shares: dict[str, dict[str, dict[str, Any]]]) -> bytes:
    """PNG of the stacked bars: ``shares`` is :func:`~.metrics.grade_shares`'s table."""
    judges = list(shares)
    widest = max(len(models) for models in shares.values())
    fig = Figure(figsize=(max(6.0, 1.4 * widest + 2.6) * len(judges), 4.6), dpi=_DPI)
    axes = fig.subplots(1, len(judges), squeeze=False)[0]
    for ax, judge in zip(axes, judges, strict=True):
        models = list(shares[judge])
        bottoms = [0.0] * len(models)
        for grade in GRADES:
            values = [shares[judge][m]["shares"][grade] * 100 for m in models]
            bars = ax.bar(
                range(len(models)),
                values,
                bottom=bottoms,
                color=GRADE_COLORS[grade],
                edgecolor="white",
                width=0.6,
                label=grade,
            )
            for bar, value, bottom in zip(bars, values, bottoms, strict=True):
                if value >= _MIN_LABELLED_SHARE * 100:
                    ax.text(
                        bar.get_x() + bar.get_width() / 2,
                        bottom + value / 2,
                        f"{grade} {value:.0f}%",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if grade in "AD" else "black",
                    )
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(
            [f"{m}\n(n={shares[judge][m]['n']})" for m in models], fontsize=8, rotation=0
        )
        ax.set_ylim(0, 100)
        ax.set_ylabel("share of replies (%)")
        ax.set_title(f"judge: {judge}", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center right", title="grade", frameon=False)
    fig.suptitle("Grades of the replies to the user-oriented tasks (A best, D worst)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.9, 0.95))
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)  # attaches itself to the figure: rendering never needs a display
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
