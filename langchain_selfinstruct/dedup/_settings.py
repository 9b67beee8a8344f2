"""Checking, saving and restoring the settings of a near-duplicate index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.embeddings import Embeddings

from langchain_selfinstruct.dedup.embedding import LexicalHashEmbeddings

__all__ = [
    "as_text_list",
    "check_settings",
    "embedding_settings",
    "embeddings_from_settings",
    "is_number",
]


def check_settings(
    threshold: float,
    mode: str,
    embeddings: Embeddings | None,
    tokenizer: str,
    semantic_threshold: float | None,
    candidates: int,
) -> None:
    if not is_number(threshold) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    if mode not in ("exact", "faiss"):
        raise ValueError(f"mode must be 'exact' or 'faiss', got {mode!r}")
    if tokenizer not in ("rouge", "unicode"):
        raise ValueError(f"tokenizer must be 'rouge' or 'unicode', got {tokenizer!r}")
    if semantic_threshold is not None and (
        not is_number(semantic_threshold) or not -1 <= semantic_threshold <= 1
    ):
        raise ValueError(f"semantic_threshold must be in [-1, 1], got {semantic_threshold!r}")
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise ValueError(f"candidates must be a positive integer, got {candidates!r}")
    if embeddings is not None and mode == "exact" and semantic_threshold is None:
        raise ValueError(
            "embeddings are only used with mode='faiss' or a semantic_threshold; "
            "exact mode would ignore them"
        )


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def as_text_list(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("expected an iterable of texts, got a single string; wrap it in a list")
    batch = list(texts)
    for text in batch:
        if not isinstance(text, str):
            raise TypeError(f"texts must be strings, got {type(text).__name__}")
    return batch


def embedding_settings(embeddings: Embeddings | None) -> dict[str, Any] | None:
    """What ``save`` writes about the embedding: the lexical one in full, a custom one by name."""
    if isinstance(embeddings, LexicalHashEmbeddings):
        return {
            "kind": "lexical",
            "dim": embeddings.dim,
            "tokenizer": embeddings.tokenizer,
            "bigram_weight": embeddings.bigram_weight,
        }
    if embeddings is not None:
        kind = type(embeddings)
        return {"kind": "custom", "class": f"{kind.__module__}.{kind.__qualname__}"}
    return None


def embeddings_from_settings(
    spec: object, embeddings: Embeddings | None, source: str
) -> Embeddings | None:
    """The embedding a saved index needs: the caller's, or the lexical one rebuilt from ``spec``.

    Raises:
        ValueError: ``spec`` is malformed, or names custom embeddings the caller did not pass.
    """
    if spec is not None and not isinstance(spec, dict):
        raise ValueError(f"{source}: malformed embedding settings")
    if embeddings is not None or spec is None:
        return embeddings
    if spec.get("kind") == "custom":
        raise ValueError(
            f"{source}: index was built with {spec.get('class')!r} embeddings; "
            "pass embeddings= to load it"
        )
    try:
        return LexicalHashEmbeddings(
            dim=spec["dim"], tokenizer=spec["tokenizer"], bigram_weight=spec["bigram_weight"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: malformed lexical embedding settings ({exc})") from exc
