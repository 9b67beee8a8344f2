"""Keep evaluation sets out of the data: ``--exclude FILE`` and ``selfinstruct decontaminate``.

A generated instruction is contaminated when it is too close to any excluded text by either of
two rules: its ROUGE-L F against it is above a threshold (default 0.7, the pool's own rule, paper
§2.4), or it shares a run of ``ngram`` tokens with it (default 13, the usual decontamination rule
since GPT-3, Brown et al., 2020, appendix C). The ROUGE-L side is a
:class:`~langchain_selfinstruct.dedup.NearDuplicateIndex` over the excluded texts, so 100,000 of
them cost what a pool of that size costs (benchmarks/README.md); the n-gram side is a sorted array
of 64-bit n-gram hashes, and a hash hit is confirmed on the tokens before it counts.

:class:`Decontaminator` is an instruction rule of the one filter contract: it returns ``None`` or a
``RuleHit`` with reason ``contaminated:<file name>`` and the evidence.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from langchain_selfinstruct.dedup import NearDuplicateIndex, rouge_tokenize
from langchain_selfinstruct.presets import PAPER_ROUGE_THRESHOLD
from langchain_selfinstruct.schema import TaskFileError, parse_task_lines
from langchain_selfinstruct.steps.filter_results import RuleHit

__all__ = ["DEFAULT_NGRAM", "Decontaminator", "load_exclusion_texts"]

DEFAULT_NGRAM = 13
"""Tokens in a shared run that make a text contaminated (GPT-3's decontamination rule)."""


def load_exclusion_texts(path: str | os.PathLike[str]) -> list[str]:
    """Read the texts to keep out of the data.

    ``.jsonl`` and ``.json`` files are read as tasks in the paper's format (``seed_tasks.jsonl``,
    ``user_oriented_instructions.jsonl``): one object per line, its ``instruction`` excluded. Any
    other file is plain text, one excluded text per non-blank line.

    Raises:
        TaskFileError: The file is missing, empty, not UTF-8 or has a bad line; the message names
            the file, the line and the field.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise TaskFileError(file, None, f"cannot read exclusion file ({e.strerror})") from e
    if file.suffix.lower() in (".jsonl", ".json"):
        texts = [task.instruction.strip() for task in parse_task_lines(file, raw)]
    else:
        texts = []
        for number, line in enumerate(raw.splitlines(), start=1):
            try:
                texts.append(line.decode("utf-8").strip())
            except UnicodeDecodeError as e:
                raise TaskFileError(file, number, f"not valid UTF-8 (byte {e.start})") from e
    texts = [text for text in texts if text]
    if not texts:
        raise TaskFileError(file, None, "no text to exclude: the file is empty")
    return texts


class Decontaminator:
    """Flag texts too close to any excluded text (ROUGE-L above ``threshold``, or an n-gram).

    Use as an ``InstructionFilter`` custom rule (``custom_rules=[decontaminator]``) or call
    :meth:`check` directly. Thread-safe for checks once built.

    Args:
        files: Exclusion files (see :func:`load_exclusion_texts`); each text is tagged with
            its file's name.
        threshold: ROUGE-L F above which a text is contaminated; default 0.7.
        ngram: Length of a shared token run that makes a text contaminated; default 13;
            ``0`` turns the n-gram rule off.

    Example:
        .. code-block:: python

            rule = Decontaminator(["eval/user_oriented_instructions.jsonl"])
            rule("Suggest a name for a bakery.")  # RuleHit('contaminated:user_...jsonl', {...})
    """

    __name__ = "decontaminate"

    def __init__(
        self,
        files: Iterable[str | os.PathLike[str]] = (),
        *,
        threshold: float = PAPER_ROUGE_THRESHOLD,
        ngram: int = DEFAULT_NGRAM,
    ) -> None:
        if ngram < 0:
            raise ValueError(f"ngram must be >= 0, got {ngram}")
        self.threshold = threshold
        self.ngram = ngram
        self._index = NearDuplicateIndex(threshold=threshold)
        self._texts: list[str] = []
        self._sources: list[str] = []
        self._by_text: dict[str, int] = {}
        self._hashes: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._owners: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        for file in files:
            self.add(load_exclusion_texts(file), Path(file).name)

    def __len__(self) -> int:
        return len(self._texts)

    def settings(self) -> dict[str, Any]:
        """What decides this rule's verdicts, for ``settings.json`` (a resume must match it)."""
        texts = hashlib.sha256("\n".join(self._texts).encode("utf-8")).hexdigest()
        return {
            "rule": self.__name__,
            "sources": sorted(set(self._sources)),
            "texts_sha256": texts,
            "threshold": self.threshold,
            "ngram": self.ngram,
        }

    @property
    def sources(self) -> list[str]:
        """The names texts were added under, in order, without repeats."""
        return list(dict.fromkeys(self._sources))

    def add(self, texts: Sequence[str], source: str) -> None:
        """Exclude more texts, tagged with ``source`` (a file name)."""
        start = len(self._texts)
        self._index.add(texts)
        for offset, text in enumerate(texts):
            self._by_text.setdefault(text, start + offset)
        self._texts.extend(texts)
        self._sources.extend([source] * len(texts))
        if self.ngram:
            self._add_ngrams(texts, start)

    def __call__(self, text: str) -> RuleHit | None:
        """The instruction rule: ``None``, or ``contaminated:<file>`` with the evidence."""
        return self.check([text])[0]

    def check(self, texts: Sequence[str]) -> list[RuleHit | None]:
        """One verdict per text, against every excluded text."""
        checks = self._index.check_batch(texts, k=1)
        pairs = zip(texts, checks, strict=True)
        return [self._verdict(text, check.most_similar) for text, check in pairs]

    def _verdict(self, text: str, similar: Sequence[tuple[str, float]]) -> RuleHit | None:
        if similar and similar[0][1] > self.threshold:
            match, score = similar[0]
            owner = self._by_text[match]
            detail = {"rule": "rouge_l", "score": score, "threshold": self.threshold}
            return self._hit(owner, detail)
        if self.ngram:
            found = self._shared_ngram(rouge_tokenize(text))
            if found is not None:
                owner, run = found
                return self._hit(owner, {"rule": "ngram", "n": self.ngram, "ngram": run})
        return None

    def _hit(self, owner: int, detail: dict[str, object]) -> RuleHit:
        source = self._sources[owner]
        return RuleHit(f"contaminated:{source}", {**detail, "match": self._texts[owner]})

    def _add_ngrams(self, texts: Sequence[str], start: int) -> None:
        hashes: list[int] = []
        owners: list[int] = []
        for offset, text in enumerate(texts):
            grams = _ngram_hashes(rouge_tokenize(text), self.ngram)
            hashes.extend(grams)
            owners.extend([start + offset] * len(grams))
        merged = np.concatenate([self._hashes, np.asarray(hashes, dtype=np.int64)])
        merged_owners = np.concatenate([self._owners, np.asarray(owners, dtype=np.int64)])
        order = np.argsort(merged, kind="stable")
        self._hashes, self._owners = merged[order], merged_owners[order]

    def _shared_ngram(self, tokens: list[str]) -> tuple[int, str] | None:
        grams = _ngram_hashes(tokens, self.ngram)
        if not grams or not len(self._hashes):
            return None
        query = np.asarray(grams, dtype=np.int64)
        positions = np.searchsorted(self._hashes, query)
        for i, position in enumerate(positions.tolist()):
            while position < len(self._hashes) and self._hashes[position] == query[i]:
                owner = int(self._owners[position])
                run = tokens[i : i + self.ngram]
                # A hash hit counts only once the tokens themselves are found in the owner.
                if _contains(rouge_tokenize(self._texts[owner]), run):
                    return owner, " ".join(run)
                position += 1
        return None


def _ngram_hashes(tokens: list[str], n: int) -> list[int]:
    return [hash(" ".join(tokens[i : i + n])) for i in range(len(tokens) - n + 1)]


def _contains(tokens: list[str], run: list[str]) -> bool:
    n = len(run)
    return any(tokens[i : i + n] == run for i in range(len(tokens) - n + 1))
