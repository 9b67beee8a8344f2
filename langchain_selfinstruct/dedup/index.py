"""NearDuplicateIndex: the paper's ROUGE-L > 0.7 novelty filter, exact or FAISS-accelerated.

Self-Instruct adds a generated instruction to the pool only when its ROUGE-L with every pool
instruction is below 0.7 (paper §2.4, "Filtering and Postprocessing"); the released code rejects
when ``max(scores) > 0.7``, so a score of exactly 0.7 is kept. Decisions here compare the very
float ``rouge_score`` computes: some mathematically exact ties, e.g. LCS 7 between texts of 7 and
13 tokens, come out of its arithmetic as 0.7000000000000001 and are rejected by the paper's code,
so they are rejected here too, while ties it computes as 0.7 (LCS 7, 10 and 10 tokens) are kept.

``mode="exact"`` gives the same decisions and scores as looping ``rouge_score`` over the pool, only
much faster (see :mod:`langchain_selfinstruct.dedup._pool` for the pruning proofs).
``mode="faiss"`` retrieves the nearest texts by embedding cosine from a FAISS index and scores
only those exactly; with an embedding model and ``semantic_threshold`` it also rejects paraphrases
whose cosine is above that value.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from langchain_selfinstruct.dedup._persist import read_index_dir, write_index_dir
from langchain_selfinstruct.dedup._pool import Query, TokenPool
from langchain_selfinstruct.dedup._settings import (
    as_text_list,
    check_settings,
    embedding_settings,
    embeddings_from_settings,
)
from langchain_selfinstruct.dedup._vectors import VectorConfig, VectorIndex
from langchain_selfinstruct.dedup.check import DuplicateCheck, DuplicateReason, Mode, TextsView
from langchain_selfinstruct.dedup.embedding import LexicalHashEmbeddings, normalize_rows
from langchain_selfinstruct.dedup.tokenize import TokenizerName
from langchain_selfinstruct.presets import PAPER_ROUGE_THRESHOLD

__all__ = ["DuplicateCheck", "DuplicateReason", "Mode", "NearDuplicateIndex"]

#: Scores tried in turn by exact top-k search; each round scores only texts that may beat it.
_TOP_K_STEPS = (0.5, 0.25)


class NearDuplicateIndex:
    """A pool of texts answering "is this new text a near-duplicate of one already in it?".

    Thread-safe: every call holds one lock while it reads or mutates the pool; embedding models
    are called outside it, so slow remote embeddings do not serialise concurrent workers.

    Args:
        threshold: A text is a near-duplicate when its ROUGE-L F-measure with some pool text is
            strictly above this (paper §2.4: 0.7).
        mode: ``"exact"``: every decision and score equals brute-force ``rouge_score``.
            ``"faiss"``: a FAISS index over embeddings retrieves ``candidates`` nearest texts and
            only those are scored; for very large pools.
        embeddings: Any LangChain ``Embeddings`` used for FAISS retrieval and for
            ``semantic_threshold``; defaults to :class:`LexicalHashEmbeddings` (no model) when
            FAISS is needed. Texts are embedded with ``embed_documents`` on both sides.
        tokenizer: ``"rouge"`` (default) tokenizes exactly like ``rouge_score``, so scores are
            identical to the paper's; it deletes every character outside ``[a-z0-9]``, which
            makes non-English texts score 0 (nothing is ever rejected). ``"unicode"`` keeps
            Unicode words and splits CJK/Thai text into characters, for non-English pools.
        semantic_threshold: When set, also reject texts whose embedding cosine with a pool text
            is above it, even when ROUGE-L is low (paraphrases); meant for a real embedding
            model. Works in both modes (exact mode then keeps a FAISS index for this rule only).
        candidates: FAISS mode: how many nearest texts are re-scored with exact ROUGE-L.
        dim: Size of the default lexical embedding.
        vector_config: FAISS index type (flat, then IVF past 50,000 texts, by default) and
            its search parameters.
        embed_batch_size: Texts per ``embed_documents`` call.
    """

    def __init__(
        self,
        threshold: float = PAPER_ROUGE_THRESHOLD,
        mode: Mode = "exact",
        embeddings: Embeddings | None = None,
        tokenizer: TokenizerName = "rouge",
        semantic_threshold: float | None = None,
        *,
        candidates: int = 50,
        dim: int = 256,
        vector_config: VectorConfig | None = None,
        embed_batch_size: int = 512,
    ) -> None:
        check_settings(threshold, mode, embeddings, tokenizer, semantic_threshold, candidates)
        if isinstance(embed_batch_size, bool) or not isinstance(embed_batch_size, int):
            raise ValueError(f"embed_batch_size must be an integer, got {embed_batch_size!r}")
        if embed_batch_size < 1:
            raise ValueError(f"embed_batch_size must be positive, got {embed_batch_size}")
        self.threshold = float(threshold)
        self.mode: Mode = mode
        self.tokenizer: TokenizerName = tokenizer
        self.semantic_threshold = semantic_threshold
        self.candidates = candidates
        self.embed_batch_size = embed_batch_size
        self._lock = threading.Lock()
        self.vector_config = vector_config or VectorConfig()
        self._pool = TokenPool(tokenizer)
        self.embeddings: Embeddings | None = None
        # Created on the first embedding, when the vector size is known (no probe call to a
        # remote embedding service at construction).
        self._vectors: VectorIndex | None = None
        if mode == "faiss" or semantic_threshold is not None:
            self.embeddings = embeddings or LexicalHashEmbeddings(dim=dim, tokenizer=tokenizer)

    def __len__(self) -> int:
        return len(self._pool)

    def __repr__(self) -> str:
        return (
            f"NearDuplicateIndex(threshold={self.threshold}, mode={self.mode!r}, "
            f"tokenizer={self.tokenizer!r}, size={len(self)})"
        )

    @property
    def texts(self) -> Sequence[str]:
        """The pool's texts in insertion order (a read-only view; duplicates allowed)."""
        return TextsView(self._pool.texts)

    # Adding ----------------------------------------------------------------------------------

    def add(self, texts: Iterable[str]) -> None:
        """Add texts to the pool unconditionally (seed tasks, or texts already checked).

        Args:
            texts: Texts to add, in order.
        """
        batch = as_text_list(texts)
        vectors = self._embed(batch)
        with self._lock:
            for text in batch:
                self._pool.add(text)
            if vectors is not None:
                self._vector_index(vectors).add(vectors)

    def add_if_new(self, texts: Iterable[str]) -> list[bool]:
        """Add each text unless it duplicates the pool (including texts accepted just before).

        Check-and-add is atomic, so concurrent workers never both accept two near-copies.

        Args:
            texts: Candidate texts, in order.

        Returns:
            For each text, whether it was added (False: a duplicate by either rule).
        """
        batch = as_text_list(texts)
        vectors = self._embed(batch)
        added = []
        with self._lock:
            for i, text in enumerate(batch):
                vector = vectors[i : i + 1] if vectors is not None else None
                is_new = self._decide(self._pool.query(text), vector) is None
                if is_new:
                    self._pool.add(text)
                    if vector is not None:
                        self._vector_index(vector).add(vector)
                added.append(is_new)
        return added

    # Querying --------------------------------------------------------------------------------

    def is_near_duplicate(self, text: str) -> bool:
        """Whether ``text`` has ROUGE-L strictly above the threshold with some pool text.

        This is the paper's rule only; ``semantic_threshold`` is applied by :meth:`check`.
        """
        return self.is_near_duplicate_batch([text])[0]

    def is_near_duplicate_batch(self, texts: Iterable[str]) -> list[bool]:
        """:meth:`is_near_duplicate` for many texts, each against the pool only."""
        batch = as_text_list(texts)
        if self.mode == "exact":
            with self._lock:
                return [self._pool.any_above(self._pool.query(t), self.threshold) for t in batch]
        return [check.reason == "near_duplicate" for check in self.check_batch(batch, k=0)]

    def most_similar(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` pool texts with the highest ROUGE-L against ``text``, best first.

        Exact mode returns the true top ``k`` (ties by insertion order, zero scores included
        when fewer texts share a token), as sorting brute-force scores would. FAISS mode ranks
        the retrieved candidates.
        """
        return self.most_similar_batch([text], k)[0]

    def most_similar_batch(
        self, texts: Iterable[str], k: int = 10
    ) -> list[list[tuple[str, float]]]:
        """:meth:`most_similar` for many texts."""
        return [check.most_similar for check in self.check_batch(texts, k)]

    def check(self, text: str, k: int = 10) -> DuplicateCheck:
        """Apply both rules to ``text`` and report the ``k`` most similar pool texts."""
        return self.check_batch([text], k)[0]

    def check_batch(self, texts: Iterable[str], k: int = 10) -> list[DuplicateCheck]:
        """:meth:`check` for many texts, each against the pool only (not against each other)."""
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        batch = as_text_list(texts)
        vectors = self._embed(batch)
        with self._lock:
            if vectors is None:
                return [self._check_exact(self._pool.query(t), k, None) for t in batch]
            depth = self.candidates if self.mode == "faiss" else 1
            sims, ids = self._search(vectors, max(k, depth))
            return [
                self._check_with_vectors(self._pool.query(t), k, sims[i], ids[i])
                for i, t in enumerate(batch)
            ]

    def average_similarity(self, text: str) -> float:
        """Mean exact ROUGE-L of ``text`` against every pool text (0.0 for an empty pool).

        This is the paper's ``avg_similarity_score``; never pruned or approximated (texts that
        share no token with ``text`` contribute their exact score, 0).
        """
        with self._lock:
            if not len(self._pool):
                return 0.0
            return self._pool.score_sum(self._pool.query(text)) / len(self._pool)

    # Persistence -----------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Save to a directory as JSON plus a FAISS index file (no pickle).

        A custom ``embeddings`` object is not saved (only its class name); pass it again to
        :meth:`load`. The default lexical embedding is fully described by its settings.

        Args:
            directory: Created if missing; existing index files in it are replaced.
        """
        with self._lock:
            write_index_dir(directory, self._settings(), list(self._pool.texts), self._vectors)

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], embeddings: Embeddings | None = None
    ) -> NearDuplicateIndex:
        """Load an index written by :meth:`save`.

        Args:
            directory: The saved directory.
            embeddings: Required when the index was saved with a custom embedding model.

        Raises:
            ValueError: A file is missing, corrupted or inconsistent (the message names it), or
                the custom embeddings were not passed.
        """
        saved = read_index_dir(directory)
        index = _from_settings(saved.settings, embeddings, saved.source)
        for text in saved.texts:
            index._pool.add(text)
        if saved.vectors is not None:
            vectors = VectorIndex.from_raw(saved.vectors, index.vector_config, source=saved.source)
            expected = getattr(index.embeddings, "dim", vectors.dim)
            if vectors.dim != expected:
                raise ValueError(
                    f"{saved.source}: vectors have size {vectors.dim}, embedding makes {expected}"
                )
            index._vectors = vectors
        return index

    def _settings(self) -> dict[str, Any]:
        plain = ("threshold", "mode", "tokenizer", "semantic_threshold", "candidates")
        return {
            **{name: getattr(self, name) for name in plain},
            "embed_batch_size": self.embed_batch_size,
            "vector_config": dataclasses.asdict(self.vector_config),
            "embedding": embedding_settings(self.embeddings),
        }

    # Internals -------------------------------------------------------------------------------

    def _embed(self, texts: list[str]) -> NDArray[np.float32] | None:
        """Unit vectors for ``texts``, or None when this index keeps no vectors."""
        if self.embeddings is None:
            return None
        if isinstance(self.embeddings, LexicalHashEmbeddings):
            return self.embeddings.embed_array(texts)
        if not texts:
            return None
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.embed_batch_size):
            rows.extend(
                self.embeddings.embed_documents(texts[start : start + self.embed_batch_size])
            )
        vectors = np.asarray(rows, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ValueError(f"embeddings returned shape {vectors.shape} for {len(texts)} texts")
        return normalize_rows(vectors)

    def _vector_index(self, vectors: NDArray[np.float32]) -> VectorIndex:
        if self._vectors is None:
            self._vectors = VectorIndex(vectors.shape[1], self.vector_config)
        return self._vectors

    def _search(
        self, vectors: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        if self._vectors is None:
            return (
                np.zeros((len(vectors), 0), dtype=np.float32),
                np.zeros((len(vectors), 0), dtype=np.int64),
            )
        return self._vectors.search(vectors, k)

    def _named(
        self, docs: NDArray[np.int64], scores: NDArray[np.float64]
    ) -> list[tuple[str, float]]:
        texts = self._pool.texts
        return [(texts[d], s) for d, s in zip(docs.tolist(), scores.tolist(), strict=True)]

    def _check_exact(self, query: Query, k: int, max_cosine: float | None) -> DuplicateCheck:
        docs, scores = self._pool.top_k(query, max(k, 1), _TOP_K_STEPS)
        best = float(scores[0]) if len(scores) else 0.0
        return self._verdict(best, self._named(docs[:k], scores[:k]), max_cosine)

    def _check_with_vectors(
        self,
        query: Query,
        k: int,
        sims: NDArray[np.float32],
        ids: NDArray[np.int64],
    ) -> DuplicateCheck:
        found = ids >= 0
        max_cosine = float(sims[found][0]) if found.any() else None
        if self.mode == "exact":
            return self._check_exact(query, k, max_cosine)
        docs = ids[found]
        scores = self._pool.scores(query, docs)
        best = float(scores.max()) if len(scores) else 0.0
        if not k:
            return self._verdict(best, [], max_cosine)
        order = np.lexsort((docs, -scores))[:k]
        return self._verdict(best, self._named(docs[order], scores[order]), max_cosine)

    def _verdict(
        self, best: float, similar: list[tuple[str, float]], max_cosine: float | None
    ) -> DuplicateCheck:
        reason: DuplicateReason | None = None
        if best > self.threshold:
            reason = "near_duplicate"
        elif (
            self.semantic_threshold is not None
            and max_cosine is not None
            and max_cosine > self.semantic_threshold
        ):
            reason = "semantic_duplicate"
        return DuplicateCheck(reason is not None, reason, best, similar, max_cosine)

    def _decide(self, query: Query, vector: NDArray[np.float32] | None) -> DuplicateReason | None:
        """Which rule rejects ``query`` (None: it is new); caller holds the lock."""
        if vector is None or self.mode == "exact":
            if self._pool.any_above(query, self.threshold):
                return "near_duplicate"
            if vector is None:
                return None
            sims, ids = self._search(vector, 1)
            found = sims[0][ids[0] >= 0]
            cosine = float(found[0]) if len(found) else None
            return self._verdict(0.0, [], cosine).reason
        sims, ids = self._search(vector, self.candidates)
        return self._check_with_vectors(query, 0, sims[0], ids[0]).reason


def _from_settings(
    settings: dict[str, Any], embeddings: Embeddings | None, source: str
) -> NearDuplicateIndex:
    """Rebuild an empty index from saved settings; any bad value raises ValueError."""
    embeddings = embeddings_from_settings(settings.get("embedding"), embeddings, source)
    try:
        vector_config = VectorConfig(**settings["vector_config"])
        return NearDuplicateIndex(
            threshold=settings["threshold"],
            mode=settings["mode"],
            embeddings=embeddings,
            tokenizer=settings["tokenizer"],
            semantic_threshold=settings["semantic_threshold"],
            candidates=settings["candidates"],
            vector_config=vector_config,
            embed_batch_size=settings["embed_batch_size"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: invalid settings ({exc})") from exc
