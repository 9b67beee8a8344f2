"""FAISS inner-product index over unit vectors: exact (flat) while small, HNSW when large."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import faiss
import numpy as np
from numpy.typing import NDArray

IndexType: TypeAlias = Literal["auto", "flat", "hnsw"]


@dataclass(frozen=True)
class VectorConfig:
    """How the FAISS index is built and searched.

    Attributes:
        index_type: ``"flat"`` (exact cosine, linear scan), ``"hnsw"``, or ``"auto"`` (flat until
            ``flat_limit`` vectors, then HNSW).
        flat_limit: Pool size at which ``"auto"`` moves the vectors into HNSW.
        hnsw_m: HNSW graph degree.
        ef_construction: HNSW build-time beam width.
        ef_search: HNSW search beam width (raised to ``k`` when a search asks for more).
    """

    index_type: IndexType = "auto"
    flat_limit: int = 50_000
    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 128

    def __post_init__(self) -> None:
        if self.index_type not in ("auto", "flat", "hnsw"):
            raise ValueError(
                f"index_type must be 'auto', 'flat' or 'hnsw', got {self.index_type!r}"
            )
        for name in ("flat_limit", "hnsw_m", "ef_construction", "ef_search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


class VectorIndex:
    """Append-only FAISS index; ids are insertion positions. Callers serialise access."""

    def __init__(self, dim: int, config: VectorConfig) -> None:
        self.dim = dim
        self.config = config
        self._index: Any = self._new_index(hnsw=config.index_type == "hnsw")

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        """``"flat"`` or ``"hnsw"``: the structure currently in use."""
        return "hnsw" if isinstance(self._index, faiss.IndexHNSW) else "flat"

    def _new_index(self, *, hnsw: bool) -> Any:
        if not hnsw:
            return faiss.IndexFlatIP(self.dim)
        index = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.config.ef_construction
        index.hnsw.efSearch = self.config.ef_search
        return index

    def add(self, vectors: NDArray[np.float32]) -> None:
        """Append unit (or zero) row vectors of shape ``(n, dim)``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        grows_past_limit = len(self) + len(vectors) >= self.config.flat_limit
        if self.config.index_type == "auto" and self.kind == "flat" and grows_past_limit:
            # Moving to HNSW once, when the pool outgrows exact scanning; the flat index keeps
            # every vector, so nothing has to be re-embedded.
            old = self._index.reconstruct_n(0, len(self)) if len(self) else None
            self._index = self._new_index(hnsw=True)
            if old is not None:
                self._index.add(old)
        if len(vectors):
            self._index.add(vectors)

    def search(
        self, vectors: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-``k`` inner products per query row; missing neighbours have id -1."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        if not len(self):
            empty = np.full((len(vectors), 1), -1, dtype=np.int64)
            return np.full((len(vectors), 1), -np.inf, dtype=np.float32), empty
        if self.kind == "hnsw":
            self._index.hnsw.efSearch = max(self.config.ef_search, k)
        sims, ids = self._index.search(vectors, k)
        return sims, ids.astype(np.int64)

    @property
    def raw(self) -> Any:
        """The underlying FAISS index (for ``faiss.write_index``)."""
        return self._index

    @classmethod
    def from_raw(cls, index: Any, config: VectorConfig, *, source: str) -> VectorIndex:
        """Wrap an index read by ``faiss.read_index``, validating its type and metric.

        Raises:
            ValueError: Not a flat or HNSW inner-product index; the message names ``source``.
        """
        if not isinstance(index, (faiss.IndexFlatIP, faiss.IndexHNSWFlat)):
            raise ValueError(f"{source}: expected a FAISS IndexFlatIP or IndexHNSWFlat")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(f"{source}: FAISS index does not use inner product")
        store = cls(int(index.d), config)
        store._index = index
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = config.ef_search
        return store


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (saved next to each file to detect corruption before parsing)."""
    return hashlib.sha256(data).hexdigest()
