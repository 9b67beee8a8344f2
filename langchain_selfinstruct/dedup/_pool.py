"""Token store behind the exact index: coded texts, lengths and an inverted index.

Candidate generation never drops a pair whose ROUGE-L could exceed the threshold ``t``:

* Length bound. ``lcs <= min(m, n)``, so a pool text of length ``n`` is skipped when even a full
  match, ``F(min(m, n), m, n)``, is not above ``t``.
* Overlap bound, found through a prefix of rare tokens. A pair needs ``lcs >= need(n)``
  (:func:`min_lcs_above`), and ``lcs <= overlap``, the multiset intersection of the two token
  lists. Let ``a`` be the smallest ``need(n)`` over the lengths that pass the length bound. Sort
  the query's ``m`` tokens rarest first (by current posting-list length) and probe the first
  ``p = m - a + 1`` of them in the inverted index. Splitting the query into the probe ``P`` and
  the rest ``R``, ``overlap <= |P ∩ d| + |R| = shared(d) + m - p``, where ``shared(d)`` counts
  the probe tokens found in ``d``. A text missing from every probed posting list has
  ``shared = 0`` and ``overlap <= a - 1 < need(n)``, so it is never even looked at; a text that
  is found is kept only if ``shared(d) + m - p >= need(n)``. Common words ("the", "a") sort last
  and are almost never probed.

Every surviving pair gets an exact LCS from rapidfuzz and is decided with the float F-measure,
so no decision and no reported score differs from ``rouge_score``.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from langchain_selfinstruct.dedup.rouge import fmeasure, lcs_many, min_lcs_above
from langchain_selfinstruct.dedup.tokenize import (
    Code,
    TokenizerName,
    Vocabulary,
    encode_ids,
    get_tokenizer,
)

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_PARALLEL_BATCH = 20_000


@dataclass(frozen=True)
class Query:
    """A tokenized query: ids (unseen tokens get ids past the vocabulary) and their code."""

    ids: list[int]
    code: Code

    @property
    def length(self) -> int:
        """Number of tokens."""
        return len(self.ids)


@dataclass(frozen=True)
class _Bounds:
    """Pruning bounds for one query length and score: see :meth:`TokenPool._bounds`.

    ``need[n - 1]`` is the least LCS exceeding the score against a text of ``n`` tokens; only
    lengths in ``[n_lo, n_hi]`` can exceed it, and ``least`` is the smallest need among them.
    """

    need: IntArray
    n_lo: int
    n_hi: int
    least: int


class TokenPool:
    """Append-only store of tokenized texts; callers serialise access with their own lock."""

    def __init__(self, tokenizer: TokenizerName) -> None:
        self._tokenize = get_tokenizer(tokenizer)
        self._vocab = Vocabulary()
        self.texts: list[str] = []
        self._codes: list[Code] = []
        self._lengths = np.zeros(1024, dtype=np.int64)
        self._postings: list[array[int]] = []
        self._max_length = 0
        self._bounds_cache: dict[tuple[int, float], _Bounds] = {}

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def lengths(self) -> IntArray:
        """Token count of every text, in insertion order."""
        return self._lengths[: len(self.texts)]

    def add(self, text: str) -> None:
        """Tokenize and store one text."""
        ids = self._vocab.add(self._tokenize(text))
        doc = len(self.texts)
        if doc == len(self._lengths):
            self._lengths = np.concatenate([self._lengths, np.zeros_like(self._lengths)])
        self._lengths[doc] = len(ids)
        self._max_length = max(self._max_length, len(ids))
        postings = self._postings
        while len(postings) < len(self._vocab):
            postings.append(array("i"))
        for token_id in set(ids):
            postings[token_id].append(doc)
        self.texts.append(text)
        self._codes.append(encode_ids(ids))

    def query(self, text: str) -> Query:
        """Tokenize a text for scoring against the pool without storing it."""
        ids = self._vocab.lookup(self._tokenize(text))
        return Query(ids=ids, code=encode_ids(ids))

    def _bounds(self, m: int, tau: float) -> _Bounds:
        """Length window and needed LCS for a query of ``m`` tokens (cached per ``m, tau``)."""
        bounds = self._bounds_cache.get((m, tau))
        if bounds is None or len(bounds.need) < self._max_length:
            sizes = np.arange(1, 2 * max(self._max_length, m) + 1, dtype=np.int64)
            need = min_lcs_above(tau, m, sizes)
            feasible = np.flatnonzero(need <= np.minimum(sizes, m))
            if len(feasible) == 0:
                bounds = _Bounds(need, 0, -1, m + 1)
            else:
                # need grows with n, so the shortest feasible partner needs the least.
                lo, hi = int(feasible[0]), int(feasible[-1])
                bounds = _Bounds(need, lo + 1, hi + 1, int(need[lo]))
            self._bounds_cache[(m, tau)] = bounds
        return bounds

    def _shared_counts(self, query: Query, probe_size: int) -> tuple[IntArray, IntArray]:
        """Texts sharing a token with the query's ``probe_size`` rarest tokens, and how many.

        Returns:
            Sorted text indices and, for each, an upper bound on how many of those probe tokens
            (as a multiset) it shares.
        """
        postings = self._postings
        known = len(postings)
        rare_first = sorted(query.ids, key=lambda t: len(postings[t]) if t < known else -1)
        # A token repeated in the probe is concatenated once per copy: its posting texts then
        # count every copy they might match.
        lists = [
            np.frombuffer(postings[t], dtype=np.int32) for t in rare_first[:probe_size] if t < known
        ]
        hits = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int32)
        del lists  # release the buffer views so the posting arrays can grow again
        if len(hits) * 16 < len(self.texts):
            hits = np.sort(hits)
            starts = np.flatnonzero(np.diff(hits, prepend=-1))
            counts = np.diff(starts, append=len(hits))
            return hits[starts].astype(np.int64), counts.astype(np.int64)
        all_counts = np.bincount(hits, minlength=len(self.texts))
        docs = np.flatnonzero(all_counts)
        return docs, all_counts[docs]

    def candidates(self, query: Query, tau: float) -> tuple[IntArray, IntArray]:
        """Pool texts whose ROUGE-L with ``query`` may exceed ``tau``, and the LCS each needs.

        Args:
            query: A tokenized query with at least one token.
            tau: Score to exceed, at least 0.

        Returns:
            Sorted text indices and, for each, the minimal LCS that would exceed ``tau``.
            Every text left out scores at most ``tau``.
        """
        m = query.length
        bounds = self._bounds(m, tau)
        n_lo, n_hi = bounds.n_lo, bounds.n_hi
        if n_hi < n_lo:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        probe_size = m - bounds.least + 1
        docs, shared = self._shared_counts(query, probe_size)
        lengths = self._lengths[docs]
        keep = (lengths >= n_lo) & (lengths <= n_hi)
        docs, shared, lengths = docs[keep], shared[keep], lengths[keep]
        need = bounds.need[lengths - 1]
        # Unprobed tokens can add at most m - probe_size to the overlap, which bounds the LCS.
        keep = shared + (m - probe_size) >= need
        return docs[keep], need[keep]

    def lcs(self, query: Query, docs: IntArray) -> IntArray:
        """Exact LCS of ``query`` with each text in ``docs``."""
        codes = self._codes
        # Large batches use every core; below that, thread start-up costs more than it saves.
        workers = -1 if len(docs) >= _PARALLEL_BATCH else 1
        if len(docs) * 2 > len(codes):
            # Most of the pool: scanning all of it beats gathering a sub-list.
            return lcs_many(query.code, codes, workers)[docs]
        return lcs_many(query.code, [codes[i] for i in docs.tolist()], workers)

    def scores(self, query: Query, docs: IntArray) -> FloatArray:
        """Exact ROUGE-L of ``query`` (as target) against each text in ``docs``."""
        if query.length == 0:
            return np.zeros(len(docs))
        return fmeasure(self.lcs(query, docs), query.length, self._lengths[docs])

    def any_above(self, query: Query, tau: float) -> bool:
        """Whether some pool text scores strictly above ``tau`` against ``query``."""
        if query.length == 0 or not self.texts:
            return False
        docs, need = self.candidates(query, tau)
        if len(docs) == 0:
            return False
        return bool((self.lcs(query, docs) >= need).any())

    def top_k(self, query: Query, k: int, taus: tuple[float, ...]) -> tuple[IntArray, FloatArray]:
        """Exact top-``k`` texts by ROUGE-L, ordered by score then insertion order.

        Scores candidates above each ``tau`` in turn (decreasing) and stops as soon as ``k``
        texts beat it: every unscored text is then known to score at most ``tau``. When none
        does, the whole pool is scored.
        """
        k = min(k, len(self.texts))
        docs = np.zeros(0, dtype=np.int64)
        scores = np.zeros(0)
        if query.length and k:
            for tau in taus:
                docs, _ = self.candidates(query, tau)
                scores = self.scores(query, docs)
                if (scores > tau).sum() >= k:
                    break
            else:
                docs = np.arange(len(self.texts))
                scores = self._all_scores(query)
        positive = scores > 0
        docs, scores = docs[positive], scores[positive]
        order = np.lexsort((docs, -scores))[:k]
        docs, scores = docs[order], scores[order]
        if len(docs) < k:
            # Texts sharing no token score exactly 0; take the earliest, as a stable sort would.
            zeros = np.setdiff1d(np.arange(k + len(docs)), docs)[: k - len(docs)]
            docs = np.concatenate([docs, zeros])
            scores = np.concatenate([scores, np.zeros(len(zeros))])
        return docs, scores

    def _all_scores(self, query: Query) -> FloatArray:
        # Scanning every text costs less than finding the ones that share a token with the query
        # when, through words like "the", that is nearly all of them.
        workers = -1 if len(self.texts) >= _PARALLEL_BATCH else 1
        return fmeasure(lcs_many(query.code, self._codes, workers), query.length, self.lengths)

    def score_sum(self, query: Query) -> float:
        """Sum of exact ROUGE-L over the whole pool."""
        if query.length == 0 or not self.texts:
            return 0.0
        return float(np.sum(self._all_scores(query)))

    def memory_bytes(self) -> int:
        """Approximate memory held by the texts, codes, postings and vocabulary."""
        size = sys.getsizeof
        total = size(self.texts) + size(self._codes) + self._lengths.nbytes + size(self._postings)
        total += sum(size(t) for t in self.texts) + sum(size(c) for c in self._codes)
        total += sum(size(p) for p in self._postings)
        total += self._vocab.memory_bytes()
        return total
