"""Shared helpers for the dedup tests: a near-duplicate generator and the rouge_score oracle."""

from __future__ import annotations

import random

from rouge_score import rouge_scorer, tokenize

_WORDS = [
    "write",
    "a",
    "short",
    "poem",
    "about",
    "the",
    "sea",
    "list",
    "three",
    "tips",
    "for",
    "staying",
    "healthy",
    "explain",
    "why",
    "sky",
    "is",
    "blue",
    "to",
    "child",
    "give",
    "me",
    "an",
    "example",
    "of",
    "metaphor",
    "translate",
    "this",
    "sentence",
    "into",
    "french",
    "summarize",
    "article",
    "in",
    "two",
    "sentences",
    "classify",
    "review",
    "as",
    "positive",
    "or",
    "negative",
]
_PUNCT = ["", "", "", ".", "?", "!", ",", " -", ":"]


def oracle_tokens(text: str) -> list[str]:
    """rouge_score's own tokenizer (no stemming), as RougeScorer uses it."""
    return list(tokenize.tokenize(text, None))


def oracle_score(target_tokens: list[str], prediction_tokens: list[str]) -> float:
    """rouge_score's ROUGE-L F-measure on already tokenized texts."""
    return float(rouge_scorer._score_lcs(target_tokens, prediction_tokens).fmeasure)


def oracle_rouge_l(a: str, b: str) -> float:
    """The reference value: RougeScorer(["rougeL"], use_stemmer=False).score(a, b)."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return float(scorer.score(a, b)["rougeL"].fmeasure)


class NearDuplicateGenerator:
    """Random short texts over a small vocabulary, plus edited copies of earlier ones.

    The small vocabulary and short lengths make ROUGE-L values cluster around 0.7, so many
    decisions are close calls, and some pairs tie at exactly 0.7.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.made: list[str] = []

    def fresh(self) -> str:
        words = [self.rng.choice(_WORDS) for _ in range(self.rng.randint(1, 14))]
        return self._decorate(words)

    def edited(self) -> str:
        words = self.rng.choice(self.made).split()
        for _ in range(self.rng.randint(0, 3)):
            op, pos = self.rng.randrange(4), self.rng.randrange(len(words) + 1)
            if op == 0 and pos < len(words):
                words[pos] = self.rng.choice(_WORDS)
            elif op == 1:
                words.insert(pos, self.rng.choice(_WORDS))
            elif op == 2 and pos < len(words) and len(words) > 1:
                del words[pos]
            elif pos + 1 < len(words):
                words[pos], words[pos + 1] = words[pos + 1], words[pos]
        return self._decorate(words)

    def next(self, dup_share: float = 0.5) -> str:
        text = self.edited() if self.made and self.rng.random() < dup_share else self.fresh()
        self.made.append(text)
        return text

    def _decorate(self, words: list[str]) -> str:
        text = " ".join(w + self.rng.choice(_PUNCT) for w in words)
        return text.upper() if self.rng.random() < 0.1 else text
