"""FAISS inner-product index over unit vectors: exact (flat) while small, IVF or HNSW when large."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import faiss
import numpy as np
from numpy.typing import NDArray

IndexType: TypeAlias = Literal["auto", "flat", "ivf", "hnsw"]
IvfStorage: TypeAlias = Literal["float", "fp16", "sq8"]

_IVF_CODES = {"float": "Flat", "fp16": "SQfp16", "sq8": "SQ8"}
#: Training sample per IVF list: enough for k-means, bounded so a 1M build trains in seconds.
_TRAIN_PER_LIST = 32
#: An IVF index is rebuilt with more lists once the pool has grown this much since training.
_IVF_REGROW = 4


@dataclass(frozen=True)
class VectorConfig:
    """How the FAISS index is built and searched.

    Attributes:
        index_type: ``"flat"`` (exact cosine, linear scan), ``"ivf"`` (inverted lists over
            spherical k-means cells), ``"hnsw"`` (graph), or ``"auto"``: flat until
            ``flat_limit`` vectors, then IVF.
        flat_limit: Pool size at which ``"auto"`` leaves exact scanning.
        nlist: IVF cells; None picks the power of two nearest ``4 * sqrt(n)`` (4096 at 1M).
        nprobe: IVF cells searched per query.
        ivf_storage: IVF vector codes: ``"float"``, ``"fp16"`` (half the memory, same ranking in
            practice) or ``"sq8"`` (a quarter).
        hnsw_m: HNSW graph degree.
        ef_construction: HNSW build-time beam width.
        ef_search: HNSW search beam width (raised to ``k`` when a search asks for more).
    """

    index_type: IndexType = "auto"
    flat_limit: int = 50_000
    nlist: int | None = None
    nprobe: int = 16
    ivf_storage: IvfStorage = "fp16"
    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 128

    def __post_init__(self) -> None:
        if self.index_type not in ("auto", "flat", "ivf", "hnsw"):
            raise ValueError(f"index_type must be auto, flat, ivf or hnsw, got {self.index_type!r}")
        if self.ivf_storage not in _IVF_CODES:
            raise ValueError(f"ivf_storage must be float, fp16 or sq8, got {self.ivf_storage!r}")
        names = ("flat_limit", "nprobe", "hnsw_m", "ef_construction", "ef_search")
        for name in (*names, "nlist") if self.nlist is not None else names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def lists_for(self, n: int) -> int:
        """IVF cell count for ``n`` vectors (at most one cell per 39 vectors)."""
        wanted = self.nlist or 2 ** round(math.log2(max(4 * math.sqrt(n), 1)))
        return max(1, min(wanted, n // 39))


class VectorIndex:
    """Append-only FAISS index; ids are insertion positions. Callers serialise access."""

    def __init__(self, dim: int, config: VectorConfig) -> None:
        self.dim = dim
        self.config = config
        self._index: Any = faiss.IndexFlatIP(dim)
        self._trained_at = 0
        if config.index_type == "hnsw":
            self._index = self._new_hnsw()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        """``"flat"``, ``"ivf"`` or ``"hnsw"``: the structure currently in use."""
        if isinstance(self._index, faiss.IndexHNSW):
            return "hnsw"
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    @property
    def raw(self) -> Any:
        """The underlying FAISS index (for ``faiss.write_index``)."""
        return self._index

    def _new_hnsw(self) -> Any:
        index = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.config.ef_construction
        index.hnsw.efSearch = self.config.ef_search
        return index

    def _new_ivf(self, vectors: NDArray[np.float32]) -> Any:
        nlist = self.config.lists_for(len(vectors))
        spec = f"IVF{nlist},{_IVF_CODES[self.config.ivf_storage]}"
        index: Any = faiss.index_factory(self.dim, spec, faiss.METRIC_INNER_PRODUCT)
        index.cp.min_points_per_centroid = 1  # small pools train on what they have, silently
        rng = np.random.default_rng(0)
        size = min(len(vectors), nlist * _TRAIN_PER_LIST)
        index.train(vectors[np.sort(rng.choice(len(vectors), size, replace=False))])
        index.add(vectors)
        self._trained_at = len(vectors)
        return index

    def _all_vectors(self) -> NDArray[np.float32]:
        if isinstance(self._index, faiss.IndexIVF):
            self._index.make_direct_map()
        vectors: NDArray[np.float32] = self._index.reconstruct_n(0, len(self))
        return vectors

    def add(self, vectors: NDArray[np.float32]) -> None:
        """Append unit (or zero) row vectors of shape ``(n, dim)``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if not len(vectors):
            return
        total = len(self) + len(vectors)
        kind = self.kind
        # Leaving exact scanning, or outgrowing the IVF cells: rebuild once from the stored
        # vectors (geometric growth keeps the cost amortised O(1) per vector).
        to_ivf = self.config.index_type in ("auto", "ivf") and (
            (kind == "flat" and total >= self._ivf_from())
            or (
                kind == "ivf"
                and self.config.nlist is None
                and total >= _IVF_REGROW * self._trained_at
            )
        )
        if to_ivf:
            old = self._all_vectors() if len(self) else np.zeros((0, self.dim), np.float32)
            self._index = self._new_ivf(np.concatenate([old, vectors]))
        else:
            self._index.add(vectors)

    def _ivf_from(self) -> int:
        return self.config.flat_limit if self.config.index_type == "auto" else 39

    def search(
        self, vectors: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-``k`` inner products per query row, best first; missing neighbours have id -1."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        k = max(1, min(k, len(self)))
        kind = self.kind
        if kind == "hnsw":
            self._index.hnsw.efSearch = max(self.config.ef_search, k)
        elif kind == "ivf":
            self._index.nprobe = self.config.nprobe
        sims, ids = self._index.search(vectors, k)
        return sims, ids.astype(np.int64)

    @classmethod
    def from_raw(cls, index: Any, config: VectorConfig, *, source: str) -> VectorIndex:
        """Wrap an index read by ``faiss.read_index``, validating its type and metric.

        Raises:
            ValueError: Not a flat, IVF or HNSW inner-product index; the message names ``source``.
        """
        accepted = (faiss.IndexFlatIP, faiss.IndexHNSWFlat, faiss.IndexIVFScalarQuantizer)
        if not isinstance(index, (*accepted, faiss.IndexIVFFlat)):
            raise ValueError(f"{source}: not a FAISS flat, IVF or HNSW index of this package")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(f"{source}: FAISS index does not use inner product")
        store = cls(int(index.d), config)
        store._index = index
        if isinstance(index, faiss.IndexIVF):
            store._trained_at = int(index.ntotal)
        return store


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (saved next to each file to detect corruption before parsing)."""
    return hashlib.sha256(data).hexdigest()
