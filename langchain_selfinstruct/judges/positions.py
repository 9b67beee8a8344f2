"""Seeded, order-independent randomisation for judges: answer positions and review samples.

A judge that sees two answers prefers one position more often than chance, so alpaca_eval
shuffles the order and records the seed. Here each item's order comes from a hash of the seed and
the item's key, not from a shared random stream: the order does not depend on which items are
judged first, how many run at once, or whether a run was resumed, and a recorded ``(seed, key)``
reproduces it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Positions", "seeded_index", "seeded_sample", "shuffle_positions"]

T = TypeVar("T")


def _rng(seed: int, key: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{seed}|{key}".encode()).digest())


@dataclass(frozen=True)
class Positions:
    """Where each of ``n`` items is shown: ``order[shown] = original index``."""

    seed: int
    key: str
    order: tuple[int, ...]

    def apply(self, items: Sequence[T]) -> list[T]:
        """The items in the order shown to the judge."""
        if len(items) != len(self.order):
            raise ValueError(f"expected {len(self.order)} items, got {len(items)}")
        return [items[i] for i in self.order]

    def original(self, shown: int) -> int:
        """The original index of the item shown at position ``shown``."""
        return self.order[shown]

    def to_dict(self) -> dict[str, object]:
        """The record to store with the verdict."""
        return {"seed": self.seed, "key": self.key, "order": list(self.order)}


def shuffle_positions(key: str, n: int, seed: int) -> Positions:
    """A random order of ``n`` items, fixed by ``(seed, key)``.

    Args:
        key: The item's stable id (a task id, ``"<task>|<model a>|<model b>"``...).
        n: How many answers are shown.
        seed: The run's recorded seed.
    """
    order = list(range(n))
    _rng(seed, key).shuffle(order)
    return Positions(seed, key, tuple(order))


def seeded_sample(items: Sequence[T], k: int, seed: int, key: Callable[[T], str]) -> list[T]:
    """``k`` items chosen by ``seed``, in a fixed order: each item ranks by a hash of its key.

    The same seed gives the same sample whatever the input order, and a larger ``k`` extends a
    smaller one (the first 100 of a 200-sample are the 100-sample), so a review can grow.

    Args:
        items: The population.
        k: Sample size (all items when ``k`` is larger).
        seed: The recorded seed.
        key: A stable id per item.
    """
    ranked = sorted(items, key=lambda item: hashlib.sha256(f"{seed}|{key(item)}".encode()).digest())
    return ranked[:k]


def seeded_index(key: str, n: int, seed: int) -> int:
    """One index in ``range(n)`` fixed by ``(seed, key)``: the instance a review looks at."""
    return _rng(seed, key).randrange(n)
