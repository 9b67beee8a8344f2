"""Step 4 for instructions (Wang et al., 2022, §2.4): :class:`InstructionFilter` as a Runnable.

It drops generated instructions that are too short or long, mention things a text model cannot
handle (images, files, ...), start oddly, or are near-duplicates of the pool or of an earlier
candidate in the same batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_selfinstruct.dedup import DuplicateIndex, TokenizerName, rouge_l_tokens
from langchain_selfinstruct.dedup.tokenize import get_tokenizer
from langchain_selfinstruct.presets import (
    PAPER_MAX_WORDS,
    PAPER_MIN_WORDS,
    PAPER_NUM_MOST_SIMILAR,
    PAPER_ROUGE_THRESHOLD,
)
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps import _rules
from langchain_selfinstruct.steps._rules import PAPER_BLACKLIST
from langchain_selfinstruct.steps.dict_output import DictOutput
from langchain_selfinstruct.steps.filter_results import (
    InstructionFilterResult,
    InstructionRule,
    Rejection,
    RuleHit,
    Similar,
    count,
    custom_rule,
)
from langchain_selfinstruct.steps.inputs import InstructionsArgs, ToolDefaults, instructions_of

__all__ = ["InstructionFilter"]

FilterInput = Sequence[str | Task] | Mapping[str, Any] | str


class InstructionFilter(
    DictOutput, ToolDefaults, RunnableSerializable[FilterInput, InstructionFilterResult]
):
    """Filter generated instructions with the heuristics of paper §2.4.

    Rules run cheapest first and the first that fires is the reason: empty text, word count,
    keyword blacklist, rejected prefixes, a chatty preamble, leading punctuation, leading
    non-ASCII character, near-duplicates, then ``custom_rules`` (so a rule that asks a model is
    only asked about texts that are new). A candidate is a near-duplicate when its ROUGE-L F
    against the pool (``index``, which may also flag semantic duplicates) or against a candidate
    kept earlier in the same call exceeds the threshold (paper §2.4: kept only when ROUGE-L < 0.7;
    exactly 0.7 is kept, as in the paper's code). The pool is not updated during a call, so the
    batch is checked with exact ROUGE-L among its own kept texts. Texts are normalised first:
    whitespace collapsed, surrounding quotes stripped.

    Example:
        .. code-block:: python

            result = InstructionFilter(index=pool_index).invoke(candidates)
            result.kept, result.stats["dropped_near_duplicate"]

    The result is a pydantic model; LCEL's ``.pick`` and ``.assign`` see it as the dict of its
    fields: ``InstructionFilter().pick("kept")`` gives the kept texts, and
    ``InstructionFilter().assign(n=lambda r: len(r["kept"]))`` adds a key to that dict. After
    another step (``chain | InstructionFilter()``) take a field with
    ``| RunnableLambda(attrgetter("kept"))``.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str | None = "self_instruct.filter_instructions"
    input_args: ClassVar[type[BaseModel]] = InstructionsArgs
    index: DuplicateIndex | None = None
    """Pool index to check against; share one across steps so the loop sees every kept text."""
    min_words: int = PAPER_MIN_WORDS
    """Reject texts with at most this many words (paper: ``<= 3``)."""
    max_words: int = PAPER_MAX_WORDS
    """Reject texts with more words than this (paper: ``> 150``)."""
    blacklist: tuple[str, ...] = PAPER_BLACKLIST
    """Whole-word, case-insensitive keywords (paper §2.4)."""
    extra_blacklist: tuple[str, ...] = ()
    """More keywords, e.g. :data:`ALPACA_EXTRA_BLACKLIST`."""
    reject_prefixes: tuple[str, ...] = ("Write a program",)
    """Case-insensitive start phrases to reject (the paper's "Write a program")."""
    reject_preamble: bool = True
    """Reject a model's chatty preamble ("Sure! Here are more tasks:"); not in the paper, whose
    completion model never wrote one."""
    reject_punctuation_start: bool = True
    """Reject texts starting with ASCII punctuation (paper)."""
    reject_non_ascii_start: bool | None = None
    """Reject texts starting with a non-ASCII character (the paper's English-only rule);
    ``None`` (default): on with the ``"rouge"`` tokenizer, off with ``"unicode"``."""
    tokenizer: TokenizerName | None = None
    """The language setting every rule shares: ``"rouge"`` (the paper: ``split()`` words for the
    length rule, ``rouge_score`` tokens, which keep only ``[a-z0-9]``, for near-duplicates) or
    ``"unicode"`` (Unicode words, one per Han or kana character, for both; the non-ASCII start
    rule off). ``None`` (default) takes the index's tokenizer, or ``"rouge"`` without one, so
    the batch check always scores like the pool check."""
    custom_rules: Sequence[Callable[[str], str | RuleHit | None]] = ()
    """Extra rules over the normalised text, run last (after dedup); return a reason (or a
    ``RuleHit`` with evidence) to drop the text, or None."""
    threshold: float | None = None
    """ROUGE-L threshold inside a batch; ``None`` takes the index's, or 0.7 (paper) without one."""
    num_similar: int = Field(default=PAPER_NUM_MOST_SIMILAR, ge=0)
    """How many similar texts to record per kept text (the paper keeps 10)."""
    update_index: bool = False
    """Add kept texts to ``index``, for use on its own (callers sharing the index should hold
    their own lock). The loop leaves this off: there the pool is the index's only writer."""

    def invoke(
        self, input: FilterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> InstructionFilterResult:
        """Filter a batch of candidate instructions.

        Args:
            input: Candidates in generation order (earlier ones win within the batch), a mapping
                with ``"instructions"``, or one candidate as a string.
            config: Runnable config (callbacks, tags, run name).
            **kwargs: Ignored.

        Returns:
            The kept texts, the rejections with reasons, similar texts and counts.
        """
        return self._call_with_config(self._run, input, config)

    async def ainvoke(
        self, input: FilterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> InstructionFilterResult:
        """Async :meth:`invoke`.

        The built-in rules and the dedup take about a millisecond per batch, less than a hop to
        the thread pool and the GIL contention it brings, so they run on the calling thread.
        With ``custom_rules`` (which may call a model) the filter runs in the thread pool.
        """
        if self.custom_rules:
            return await super().ainvoke(input, config, **kwargs)
        return await self._acall_with_config(self._afilter, input, config)

    async def _afilter(self, input: FilterInput) -> InstructionFilterResult:
        return self._run(input)

    def _run(self, input: FilterInput) -> InstructionFilterResult:
        return self._filter(instructions_of(input, "InstructionFilter", allow_str=True))

    @model_validator(mode="after")
    def _check_tokenizer(self) -> InstructionFilter:
        own = getattr(self.index, "tokenizer", None)
        if self.tokenizer is not None and own is not None and own != self.tokenizer:
            raise ValueError(
                f"tokenizer={self.tokenizer!r} but the index compares with {own!r}; "
                "the batch and pool checks must score alike: build the index with "
                f"NearDuplicateIndex(tokenizer={self.tokenizer!r}) or leave tokenizer unset"
            )
        return self

    @property
    def effective_tokenizer(self) -> TokenizerName:
        """The tokenizer in force: :attr:`tokenizer`, else the index's, else ``"rouge"``."""
        own = getattr(self.index, "tokenizer", None)
        return self.tokenizer or (own if own in ("rouge", "unicode") else "rouge")

    def _rules(self) -> list[InstructionRule]:
        tokenizer = self.effective_tokenizer
        non_ascii = self.reject_non_ascii_start
        rules: list[InstructionRule] = [
            _rules.empty_rule,
            _rules.length_rule(self.min_words, self.max_words, tokenizer),
            _rules.blacklist_rule((*self.blacklist, *self.extra_blacklist)),
            _rules.prefix_rule(self.reject_prefixes),
        ]
        if self.reject_preamble:
            rules.append(_rules.preamble_rule)
        if self.reject_punctuation_start:
            rules.append(_rules.starts_with_punctuation)
        if non_ascii or (non_ascii is None and tokenizer == "rouge"):
            rules.append(_rules.non_ascii_start)
        return rules

    def _filter(self, candidates: list[str]) -> InstructionFilterResult:
        rules = self._rules()
        rejected: dict[int, Rejection] = {}
        survivors: list[tuple[int, str]] = []
        for position, raw in enumerate(candidates):
            text = _rules.normalize_instruction(raw)
            hit = next((h for rule in rules if (h := rule(text)) is not None), None)
            if hit is None:
                survivors.append((position, text))
            else:
                rejected[position] = Rejection(text=raw, reason=hit.reason, detail=hit.detail)
        kept, similar = self._dedup(candidates, survivors, rejected)
        if self.update_index and self.index is not None and kept:
            self.index.add(kept)
        ordered = [rejected[position] for position in sorted(rejected)]
        stats = count(len(candidates), len(kept), (r.reason for r in ordered))
        return InstructionFilterResult(kept=kept, rejected=ordered, similar=similar, stats=stats)

    def _dedup(
        self,
        candidates: list[str],
        survivors: list[tuple[int, str]],
        rejected: dict[int, Rejection],
    ) -> tuple[list[str], dict[str, Similar]]:
        texts = [text for _, text in survivors]
        checks = None
        if self.index is not None and texts:
            checks = self.index.check_batch(texts, k=self.num_similar)
        threshold = self._batch_threshold()
        tokenize = get_tokenizer(self.effective_tokenizer)
        kept_tokens: list[list[str]] = []
        custom: list[InstructionRule] = [custom_rule(rule) for rule in self.custom_rules]
        kept: list[str] = []
        similar: dict[str, Similar] = {}
        for i, (position, text) in enumerate(survivors):
            raw = candidates[position]
            pool = checks[i] if checks is not None else None
            if pool is not None and pool.is_duplicate:
                reason = pool.reason or "near_duplicate"
                rejected[position] = _duplicate(
                    raw, reason, "pool", pool.max_score, pool.most_similar
                )
                continue
            tokens = tokenize(text)
            scores = (rouge_l_tokens(theirs, tokens) for theirs in kept_tokens)
            batch = sorted(zip(kept, scores, strict=True), key=_by_score)
            if batch and batch[0][1] > threshold:
                top, score = batch[: self.num_similar], batch[0][1]
                rejected[position] = _duplicate(raw, "near_duplicate", "batch", score, top)
                continue
            hit = next((h for rule in custom if (h := rule(text)) is not None), None)
            if hit is not None:
                rejected[position] = Rejection(text=raw, reason=hit.reason, detail=hit.detail)
                continue
            merged = [*batch, *(pool.most_similar if pool is not None else ())]
            similar[text] = sorted(merged, key=_by_score)[: self.num_similar]
            kept.append(text)
            kept_tokens.append(tokens)
        return kept, similar

    def _batch_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return self.index.threshold if self.index is not None else PAPER_ROUGE_THRESHOLD


def _duplicate(
    text: str, reason: str, against: str, score: float, most_similar: Sequence[tuple[str, float]]
) -> Rejection:
    detail = {"against": against, "score": score, "most_similar": list(most_similar)}
    return Rejection(text=text, reason=reason, detail=detail)


def _by_score(pair: tuple[str, float]) -> float:
    return -pair[1]
