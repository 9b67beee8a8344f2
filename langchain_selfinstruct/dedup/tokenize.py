"""Tokenizers for ROUGE-L and a vocabulary that codes tokens as compact integer ids.

``rouge_tokenize`` reproduces ``rouge_score.tokenize.tokenize(text, stemmer=None)`` (the tokenizer
behind ``RougeScorer(["rougeL"], use_stemmer=False)``, which the paper's code uses): lowercase with
``str.lower``, turn every run of characters outside ``[a-z0-9]`` into a separator, keep the
non-empty pieces. Everything else is deleted, so Chinese, Hindi or accented words produce no
tokens at all (huggingface/evaluate#256) and such instructions always score 0.

``unicode_tokenize`` is the opt-in alternative for non-English pools: NFKC-normalised, lowercased
Unicode words (letters, digits and combining marks, so Devanagari vowel signs stay inside their
word), and one token per character for scripts written without spaces (Han, kana, Thai, Lao,
Khmer, Myanmar).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Literal, TypeAlias

__all__ = [
    "TokenizerName",
    "Vocabulary",
    "get_tokenizer",
    "rouge_tokenize",
    "unicode_tokenize",
]

TokenizerName: TypeAlias = Literal["rouge", "unicode"]

#: A token sequence coded for rapidfuzz: one character per token id, or a list of ids when an
#: id does not fit in a code point (vocabularies beyond 1,114,111 tokens).
Code: TypeAlias = str | list[int]

_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")

# Scripts written without spaces between words: each character is a token of its own.
_PER_CHAR_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x3FFFF),  # CJK Extensions B-H
)


def rouge_tokenize(text: str) -> list[str]:
    """Tokenize exactly like ``rouge_score`` without stemming.

    Args:
        text: Any text.

    Returns:
        The lowercase ``[a-z0-9]+`` runs of ``text.lower()``, in order.
    """
    return _ROUGE_TOKEN.findall(text.lower())


def _char_class(ranges: Sequence[tuple[int, int]]) -> str:
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )


def _ranges(code_points: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for cp in code_points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


@cache
def _unicode_pattern() -> re.Pattern[str]:
    # Built once on first use (a fraction of a second): Python's \w has no combining marks, which
    # would cut Devanagari, Bengali or Tamil words at every vowel sign.
    per_char = set().union(*(range(lo, hi + 1) for lo, hi in _PER_CHAR_RANGES))
    major = [unicodedata.category(chr(cp))[0] for cp in range(sys.maxunicode + 1)]
    marks = _ranges(cp for cp, cat in enumerate(major) if cat == "M")
    word = _ranges(cp for cp, cat in enumerate(major) if cat in "LMN" and cp not in per_char)
    single = _char_class(_PER_CHAR_RANGES)
    return re.compile(f"[{single}][{_char_class(marks)}]*|[{_char_class(word)}]+")


def unicode_tokenize(text: str) -> list[str]:
    """Tokenize Unicode text into words, and CJK/Thai-like text into characters.

    Args:
        text: Any text.

    Returns:
        Lowercased NFKC tokens in order.
    """
    return _unicode_pattern().findall(unicodedata.normalize("NFKC", text).lower())


def get_tokenizer(name: TokenizerName) -> Callable[[str], list[str]]:
    """Return the tokenizer called ``name``.

    Raises:
        ValueError: Unknown name.
    """
    if name == "rouge":
        return rouge_tokenize
    if name == "unicode":
        return unicode_tokenize
    raise ValueError(f"unknown tokenizer {name!r}; expected 'rouge' or 'unicode'")


def encode_ids(ids: Sequence[int]) -> Code:
    """Code token ids for rapidfuzz, which compares characters and integers alike.

    Args:
        ids: Non-negative token ids.

    Returns:
        A string with one character per id, or the ids themselves when one exceeds the Unicode
        range. Both forms compare equal token by token inside rapidfuzz.
    """
    if not ids or max(ids) <= sys.maxunicode:
        return "".join(map(chr, ids))
    return list(ids)


class Vocabulary:
    """Maps tokens to dense integer ids in order of first appearance.

    Not thread-safe on its own; the index serialises calls to :meth:`add`.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, tokens: Sequence[str]) -> list[int]:
        """Return the ids of ``tokens``, assigning new ids to unseen tokens."""
        ids = self._ids
        return [ids.setdefault(token, len(ids)) for token in tokens]

    def lookup(self, tokens: Sequence[str]) -> list[int]:
        """Return ids without growing the vocabulary.

        Unseen tokens get fresh ids past the vocabulary (equal tokens share one), so they can
        match each other but never a token already in the pool.
        """
        ids = self._ids
        unseen: dict[str, int] = {}
        base = len(ids)
        out = []
        for token in tokens:
            token_id = ids.get(token)
            if token_id is None:
                token_id = unseen.setdefault(token, base + len(unseen))
            out.append(token_id)
        return out

    def memory_bytes(self) -> int:
        """Approximate memory of the mapping and its token strings."""
        return sys.getsizeof(self._ids) + sum(sys.getsizeof(t) for t in self._ids)
