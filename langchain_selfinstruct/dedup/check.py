"""The answer of a near-duplicate check, and the read-only view of a pool's texts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, overload

__all__ = ["DuplicateCheck", "DuplicateReason", "Mode", "TextsView"]

Mode: TypeAlias = Literal["exact", "faiss"]
DuplicateReason: TypeAlias = Literal["near_duplicate", "semantic_duplicate"]


@dataclass(frozen=True)
class DuplicateCheck:
    """Outcome of checking one text against the pool.

    Attributes:
        is_duplicate: Whether a rule fired (the text should be rejected).
        reason: ``"near_duplicate"`` (ROUGE-L above the threshold; checked first),
            ``"semantic_duplicate"`` (embedding cosine above ``semantic_threshold``), or None.
        max_score: Highest ROUGE-L against the pool (exact in exact mode; among the retrieved
            candidates in FAISS mode); 0.0 for an empty pool.
        most_similar: Up to ``k`` ``(text, ROUGE-L)`` pairs, best first.
        max_cosine: Highest embedding cosine found, when an embedding index exists.
    """

    is_duplicate: bool
    reason: DuplicateReason | None
    max_score: float
    most_similar: list[tuple[str, float]] = field(default_factory=list)
    max_cosine: float | None = None


class TextsView(Sequence[str]):
    """Read-only, zero-copy view of the pool's texts in insertion order."""

    def __init__(self, texts: list[str]) -> None:
        self._texts = texts

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self._texts[index]

    def __len__(self) -> int:
        return len(self._texts)

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __repr__(self) -> str:
        return f"<{len(self)} texts>"
