"""What the filters and the loop need from a near-duplicate index (any implementation will do)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["DuplicateCheckLike", "DuplicateIndex", "PoolIndex"]


class DuplicateCheckLike(Protocol):
    """What the instruction filter reads from one duplicate check."""

    @property
    def is_duplicate(self) -> bool:
        """Whether the text is too close to the pool."""

    @property
    def reason(self) -> str | None:
        """``near_duplicate`` or ``semantic_duplicate`` when a duplicate."""

    @property
    def max_score(self) -> float:
        """Highest ROUGE-L F against the pool."""

    @property
    def most_similar(self) -> Sequence[tuple[str, float]]:
        """The most similar pool texts with their ROUGE-L F, best first."""


@runtime_checkable
class DuplicateIndex(Protocol):
    """The part of :class:`~langchain_selfinstruct.dedup.NearDuplicateIndex` the filter uses."""

    @property
    def threshold(self) -> float:
        """ROUGE-L F above which a text is a near-duplicate."""

    def check_batch(self, texts: Sequence[str], k: int = 10) -> Sequence[DuplicateCheckLike]:
        """Check each text against the pool, reporting its ``k`` most similar texts."""

    def add(self, texts: Iterable[str]) -> None:
        """Add texts to the pool."""


@runtime_checkable
class PoolIndex(DuplicateIndex, Protocol):
    """What the loop's pool needs beyond the filter's part: its size and the mean similarity."""

    def __len__(self) -> int:
        """Texts in the pool."""

    def average_similarity(self, text: str) -> float:
        """Mean ROUGE-L F of ``text`` against the whole pool (the paper's avg score)."""
