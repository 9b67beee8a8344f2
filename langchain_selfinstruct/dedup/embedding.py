"""A model-free lexical embedding whose cosine tracks ROUGE-L.

Each text becomes a signed feature-hashing vector of its unigrams and (weighted) bigrams, as sets:
the k-th repeat of a token within a text is a feature of its own. The dot product of two
unhashed unigram vectors is then exactly the multiset overlap of their tokens, and their cosine
``overlap / sqrt(m * n)`` bounds ROUGE-L from above, since ``lcs <= overlap`` and
``sqrt(m * n) <= (m + n) / 2`` give ``F = 2 * lcs / (m + n) <= cosine``: a pair above 0.7 ROUGE-L
is above 0.7 unigram cosine. Bigrams reward shared word order, which separates real near-copies
from texts that merely share a template's words, and hashing into ``dim`` buckets adds noise of
about ``1 / sqrt(dim)``; both are why the index retrieves several candidates and re-scores them
exactly. Hashing uses crc32 (not Python's salted ``hash``), so vectors are identical across
processes and a saved FAISS index stays valid after reload.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from langchain_selfinstruct.dedup.tokenize import TokenizerName, get_tokenizer

__all__ = ["LexicalHashEmbeddings", "normalize_rows"]

_BIGRAM_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: mixes the first token's hash
_REPEAT_MULT = np.uint64(0xC2B2AE3D27D4EB4F)
_MASK32 = np.uint64(0xFFFFFFFF)
_CHUNK = 1024


@lru_cache(maxsize=1 << 20)
def _token_hash(token: str) -> int:
    return zlib.crc32(token.encode("utf-8"))


def normalize_rows(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Scale each row to unit L2 norm in place (all-zero rows stay zero) and return it."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


def _number_repeats(features: NDArray[np.uint64], rows: NDArray[np.int64]) -> NDArray[np.uint64]:
    """Give the k-th repeat of a feature within a text its own hash (k = 1, 2, ...).

    Turns each text's multiset of features into a set, so the dot product of two texts counts
    ``min(count_a, count_b)`` per feature (the multiset overlap that bounds the LCS) instead of
    ``count_a * count_b``, which would let repeated words dominate.
    """
    key = (rows.astype(np.uint64) << np.uint64(32)) | (features & _MASK32)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    positions = np.arange(len(key))
    starts = np.ones(len(key), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    repeat = np.empty(len(key), dtype=np.uint64)
    repeat[order] = positions - np.maximum.accumulate(np.where(starts, positions, 0))
    mixed = ((features ^ (repeat * _REPEAT_MULT)) * _BIGRAM_MULT) >> np.uint64(32)
    return np.where(repeat > 0, mixed, features)


class LexicalHashEmbeddings(Embeddings):
    """Hashed unigram + bigram sets, normalised; deterministic and offline.

    Args:
        dim: Vector size.
        tokenizer: ``"rouge"`` (rouge_score's rules) or ``"unicode"``; use the index's tokenizer.
        bigram_weight: Weight of a bigram relative to a unigram.
    """

    def __init__(
        self,
        dim: int = 256,
        tokenizer: TokenizerName = "rouge",
        bigram_weight: float = 0.25,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 8:
            raise ValueError(f"dim must be an integer of at least 8, got {dim!r}")
        if (
            isinstance(bigram_weight, bool)
            or not isinstance(bigram_weight, (int, float))
            or not bigram_weight >= 0
        ):
            raise ValueError(f"bigram_weight must be a non-negative number, got {bigram_weight!r}")
        self.dim = dim
        self.tokenizer: TokenizerName = tokenizer
        self.bigram_weight = float(bigram_weight)
        self._tokenize = get_tokenizer(tokenizer)

    def __repr__(self) -> str:
        return (
            f"LexicalHashEmbeddings(dim={self.dim}, tokenizer={self.tokenizer!r}, "
            f"bigram_weight={self.bigram_weight})"
        )

    def embed_array(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed texts into a ``(len(texts), dim)`` float32 array of unit (or zero) rows."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Chunks bound the float64 scratch space of np.bincount to a few megabytes.
        for start in range(0, len(texts), _CHUNK):
            out[start : start + _CHUNK] = self._embed_chunk(texts[start : start + _CHUNK])
        return out

    def _embed_chunk(self, texts: Sequence[str]) -> NDArray[np.float32]:
        lengths: list[int] = []
        token_hashes: list[int] = []
        for text in texts:
            tokens = self._tokenize(text)
            lengths.append(len(tokens))
            token_hashes.extend(map(_token_hash, tokens))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not token_hashes:
            return out
        uni = np.array(token_hashes, dtype=np.uint64)
        uni_rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        same_text = uni_rows[:-1] == uni_rows[1:]
        bi = ((uni[:-1] * _BIGRAM_MULT + uni[1:]) >> np.uint64(32))[same_text]
        rows = np.concatenate([uni_rows, uni_rows[:-1][same_text]])
        h = _number_repeats(np.concatenate([uni, bi]), rows)
        weight = np.concatenate([np.ones(len(uni)), np.full(len(bi), self.bigram_weight)])
        # Bit 31 of the hash picks the sign: collisions then cancel on average instead of
        # inflating the cosine of unrelated texts.
        sign = np.where((h >> np.uint64(31)) & np.uint64(1), -1.0, 1.0)
        bucket = ((h & _MASK32) % np.uint64(self.dim)).astype(np.int64)
        counts = np.bincount(rows * self.dim + bucket, weights=weight * sign, minlength=out.size)
        out[:] = counts.reshape(out.shape)
        return normalize_rows(out)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (see :meth:`embed_array`)."""
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        """Embed one text; identical to a document embedding (dedup compares like with like)."""
        return self.embed_documents([text])[0]
